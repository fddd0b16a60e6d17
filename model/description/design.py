"""A design: one on-chip network as data, read from ``golden/<name>/design.toml``.

Every stage is a pass over a Design: the QKeras model, the hls4ml configuration and the check
of the converted graph, the numpy integer reference, the da4ml trace, the RTL ports, the golden
columns, the C++ harness and the cocotb tests all read their sizes and formats from here.
Adding a design is adding a description; no Python changes. The format is documented in
docs/designs.md; an example:

    name = "vae-low"
    kind = "vae_encoder"              # or "classifier"
    [input]                           # a track encoding (below), or N plain inputs of any format:
                                      # format = "fixed<16,6>" and count = 16 (no charge_code, slices)
    format = "ufixed<4,0>"            # raw codes 0..15
    charge_code = "linear"            # floor(q / bin_e), overflow in the top code; or "sqrt_log"
    bin_e = 500.0
    slices = [0, 1, 2, 3]             # y-profiles (13 rows) of these time slices, then y0
    y0 = true
    [[layers]]
    name = "fc1"
    units = 24
    activation = "relu"               # or "linear"
    weight = "fixed<8,1>"             # QKeras quantized_bits(8, 0, alpha=1)
    bias = "fixed<8,4>"
    accum = "fixed<24,8>"
    result = "ufixed<8,3,RND_CONV,SAT>"
    [outputs]
    score = "kl_clipped"              # 0.5 * sum(last layer^2), or "network" (the last layer is the score),
                                      # or "kl_total" (a JointVAE: kl_clipped of the means + the discrete KL)
                                      # or "none" (a classifier: the outputs are the last layer, port out_y,
                                      # columns y0..; no score_format, decision or threshold)
    dip_shift = 3                     # optional, kl_clipped: + 2**dip_shift x the input profiles' dips
    score_format = "ufixed<18,9>"
    decision = "flag"                 # 1 when score > the programmable threshold
    exp_frac = 8                      # kl_total: fraction bits of the exp tables (model/fixed/kl_discrete.py)
    sum_frac = 6                      # kl_total: fraction bits of the softmax sum that indexes ln and 1/x
    [check]                           # optional, a VAE's score: + 2**shift x the charge each profile row
    window = 2                        # lacks against a prediction from rows r-2..r+2 (not r)
    y0 = false                        # and y0 if true (class Check); input_frac = 6: the check reads
                                      # the codes' top 6 bits (default: all)
    shift = -2                        # [[check.layers]] like [[layers]]: hidden ReLU
    [[check.layers]]                  # layers with units a multiple of 13 (grouped by row), then a
    name = "chk_hidden"               # linear layer of one unit per profile input, whose result has
    units = 104                       # the check's input_frac fraction bits
    [latent]                          # a JointVAE: the last layer's units are the continuous means,
    continuous = 8                    # then the logits of each categorical latent (kl_total score)
    categorical = [8]
    [rtl]
    adder_levels = 8                  # adder levels per pipeline stage (chosen by `pixvae timing`)
    depth_slack = -1                  # da4ml hard_dc: extra adder levels a layer may use (-1: no limit)
    budget_ns = 25.0                  # the latency budget the regression checks (default: one 40 MHz crossing)
    [decoder]                         # a vae_encoder's off-detector decoder (training, evaluation)
    units = [24, 48, 64]              # ReLU layers, then a sigmoid output per reconstructed code
    slices = [0, 1, 2, 3, 4, 5, 6, 7] # the time slices it reconstructs (13 rows each), then y0
    y0 = true
    weight = "fixed<8,1>"             # quantization-aware formats (these are the defaults)
    bias = "fixed<8,4>"
    result = "ufixed<8,3,RND_CONV,SAT>"
    [threshold]
    on = "normal"                     # tracks whose score sets the committed threshold (or "signal")
    quantile = 0.99
    [paper]                           # the seed paper's figures for this design, beside ours in reports
    percent_error_mean = 8.5
    [training]
    sparsity = 0.0                    # magnitude pruning after the main epochs (prune_epochs, finetune_epochs)
    beta_min = 5e-5                   # a VAE's KL weight: `beta`, or annealed sinusoidally between
    beta_max = 2.5e-4                 # beta_min and beta_max over beta_period epochs
    beta_period = 20
    [training.profiles.short]
    n_tracks = 30000
    eval_tracks = 10000               # tracks per set measured after training (reference/metrics.json)
    epochs = 30
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.description import formats as F
from model.description.formats import FixedFormat

REPO = Path(__file__).resolve().parents[2]
DESIGNS_ROOT = REPO / "golden"
DESIGN_FILE = "design.toml"
DEFAULT_DESIGN = "vae-low"
KINDS = ("vae_encoder", "classifier")
ACTIVATIONS = ("relu", "linear")
CHARGE_CODES = ("linear", "sqrt_log")
# da4ml's pipeline split when a description gives no [rtl] adder_levels (an estimate of what a
# 4 ns stage holds); `pixvae timing` chooses the depth from closed timing instead.
DEFAULT_ADDER_LEVELS = 8
DEFAULT_BUDGET_NS = 25.0  # one 40 MHz bunch crossing: a design's [rtl] budget_ns unless it says otherwise
SCORES = ("kl_clipped", "kl_total", "network", "none")
OUTPUT_FIELD = "y"  # score "none": the last layer's results leave the chip as out_y, columns y0..
BETA_ANNEAL = ("beta_min", "beta_max", "beta_period")  # [training] keys of a sinusoidal KL-weight anneal
N_ROWS = 13  # y-profile rows per time slice (the sensor's 13 rows)

# The keys each table may hold: a misspelled optional key would otherwise be ignored and its
# default applied (`depth_slak = 0` changes the RTL), so any other key is refused. [paper] is
# free-form: its figures are looked up by name by the reports (pixvae/measure.py, pixvae/*_report.py),
# which add figures as they grow, and a figure there changes no model, RTL or vector.
LAYER_KEYS = ("name", "units", "activation", "weight", "bias", "accum", "result")
# Training settings, in [training] and in every [training.profiles.*] (a profile's override them);
# read by model/networks/vae.py, model/networks/jointvae.py, model/networks/classifier.py, model/networks/check.py,
# pixvae/stages.py.
# `reconstruction` and `optimizer` name the JointVAE's recipe for the reader (model/networks/jointvae.py).
TRAINING_KEYS = ("seed", "n_tracks", "eval_tracks", "epochs", "prune_epochs", "finetune_epochs", "check_epochs",
                 "batch_size", "learning_rate", "beta", *BETA_ANNEAL, "kl_eps", "tau_start", "tau_min", "tau_rate",
                 "discrete_capacity", "capacity_gamma", "capacity_epochs", "weight_decay", "lr_plateau_patience",
                 "early_stopping_patience", "reconstruction", "optimizer")
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "": ("name", "kind", "description", "input", "layers", "outputs", "check", "latent", "rtl", "decoder",
         "threshold", "paper", "training"),
    "[input]": ("format", "count", "charge_code", "bin_e", "alpha", "slices", "y0"),
    "[[layers]]": LAYER_KEYS,
    "[outputs]": ("score", "score_format", "decision", "dip_shift", "exp_frac", "sum_frac"),
    "[check]": ("window", "shift", "y0", "input_frac", "layers"),
    "[[check.layers]]": LAYER_KEYS,
    "[latent]": ("continuous", "categorical"),
    "[rtl]": ("adder_levels", "depth_slack", "budget_ns"),
    "[decoder]": ("units", "slices", "y0", "weight", "bias", "result"),
    "[threshold]": ("on", "quantile"),
    "[training]": ("sparsity", "profiles", *TRAINING_KEYS),  # sparsity applies to every profile
    "[training.profiles.*]": TRAINING_KEYS,
}


class DesignError(ValueError):
    """A missing or malformed design description (message is one line, naming the file)."""


@dataclass(frozen=True)
class Encoding:
    """How a track becomes the network's input codes."""

    charge_code: str
    bin_e: float
    alpha: float
    slices: tuple[int, ...]
    y0: bool


@dataclass(frozen=True)
class Dense:
    """A quantized Dense layer and the activation after it, with every fixed-point format."""

    name: str
    n_in: int
    units: int
    activation: str
    weight: FixedFormat
    bias: FixedFormat
    accum: FixedFormat
    result: FixedFormat


@dataclass(frozen=True)
class Field:
    """One output of the RTL: port out_<name>, golden columns <name>0.. (or <name> when count is 1)."""

    name: str
    count: int
    fmt: FixedFormat

    @property
    def columns(self) -> list[str]:
        return [self.name] if self.count == 1 else [f"{self.name}{j}" for j in range(self.count)]

    @property
    def bits(self) -> int:
        return self.count * self.fmt.width

    @property
    def port(self) -> str:
        return f"out_{self.name}"


@dataclass(frozen=True)
class Check:
    """An on-chip check of the input y-profiles' shape, a term of a VAE's score. Row r of every
    input slice is predicted from rows r-window..r+window (not r itself) of every slice (and y0),
    through layers whose units are grouped by row, so a row never sees itself; the score adds
    2**shift x the sum over the profile inputs of max(0, prediction - input), in LSBs of the
    input_frac bits the check reads: the charge a row lacks against what its neighbours imply (a
    dead pixel, a dead row). Trained on normal tracks only (model/networks/check.py)."""

    window: int
    shift: int
    n_slices: int
    y0: bool  # whether the first layer also reads y0
    input_frac: int  # the check reads the input codes truncated to this many fraction bits
    layers: tuple[Dense, ...]  # hidden layers (units a multiple of 13, grouped by row), then one unit per profile input

    @property
    def n_profile(self) -> int:
        return self.n_slices * N_ROWS

    @property
    def input_format(self) -> FixedFormat:
        """What the check reads: the input codes' top input_frac bits, ufixed<input_frac,0>."""
        return FixedFormat(self.input_frac, 0, signed=False)

    def _rows(self, k: int) -> np.ndarray:
        """The y-row each unit of layer k serves (k = -1: the inputs; y0 is -1, it serves every row)."""
        if k == -1:
            rows = np.arange(self.layers[0].n_in) % N_ROWS
            rows[self.n_profile:] = -1
            return rows
        units = self.layers[k].units
        return np.arange(units) % N_ROWS if k == len(self.layers) - 1 else np.arange(units) // (units // N_ROWS)

    def mask(self, k: int) -> np.ndarray:
        """Which weights of layer k's kernel (n_in x units) may be nonzero."""
        rin, rout = self._rows(k - 1)[:, None], self._rows(k)[None, :]
        if k == 0:
            return ((rin == -1) & self.y0) | ((rin != -1) & (rin != rout) & (np.abs(rin - rout) <= self.window))
        return rin == rout


DECISION_FORMAT = FixedFormat(1, 1, signed=False)


@dataclass(frozen=True)
class Latent:
    """How a VAE's last layer splits: `continuous` Gaussian means, then the logits of each
    categorical latent (a JointVAE; none for the seed paper's VAE)."""

    continuous: int
    categorical: tuple[int, ...] = ()

    @property
    def n_logits(self) -> int:
        return sum(self.categorical)

    def groups(self) -> list[slice]:
        """The columns of each categorical latent's logits in the last layer's results."""
        out, start = [], self.continuous
        for k in self.categorical:
            out.append(slice(start, start + k))
            start += k
        return out


@dataclass(frozen=True)
class Decoder:
    """A VAE's decoder: off-detector, for training and evaluation only (never exported).

    It reconstructs the y-profiles of `slices` (13 rows each, in the input's charge code) and y0
    from the latent means, through ReLU layers of `units` and a sigmoid output; its weights,
    biases and hidden activations are quantization-aware in the given formats."""

    units: tuple[int, ...]
    slices: tuple[int, ...]
    y0: bool
    weight: FixedFormat
    bias: FixedFormat
    result: FixedFormat

    @property
    def n_out(self) -> int:
        return len(self.slices) * N_ROWS + int(self.y0)


@dataclass(frozen=True)
class Design:
    name: str
    kind: str
    description: str
    path: Path  # the design's folder: design.toml, reference/, vectors/
    input_format: FixedFormat
    encoding: Encoding | None  # None: plain inputs of input_format ([input] count), no track encoding
    layers: tuple[Dense, ...]
    score: str
    score_format: FixedFormat
    decision: str
    threshold_on: str
    threshold_quantile: float
    sparsity: float
    training: dict[str, Any] = field(default_factory=dict)
    adder_levels: int = DEFAULT_ADDER_LEVELS  # adder levels per pipeline stage of the exported RTL
    depth_slack: int = -1  # da4ml hard_dc: adder levels a layer may use beyond its minimum (-1: no limit)
    decoder: Decoder | None = None  # a vae_encoder's off-detector decoder
    paper: dict[str, Any] = field(default_factory=dict)  # the seed paper's figures for this design
    dip_shift: int | None = None  # a kl_clipped score plus (sum of y-profile dips) x 2**dip_shift
    latent_split: Latent | None = None  # a VAE's continuous means and categorical logits
    exp_frac: int = 8  # kl_total: fraction bits of the exp tables
    sum_frac: int = 6  # kl_total: fraction bits of the softmax sum indexing the ln and 1/x tables
    check: Check | None = None  # a VAE score's check of the input profiles' shape
    budget_ns: float = DEFAULT_BUDGET_NS  # the latency budget of the exported RTL

    # --- derived sizes -----------------------------------------------------------------------
    @property
    def n_inputs(self) -> int:
        return self.layers[0].n_in

    @property
    def input_bits(self) -> int:
        return self.n_inputs * self.input_format.width

    @property
    def x_columns(self) -> list[str]:
        width = max(2, len(str(self.n_inputs - 1)))
        return [f"x{j:0{width}d}" for j in range(self.n_inputs)]

    @property
    def joint(self) -> bool:
        """A JointVAE: a VAE whose last layer also gives categorical logits."""
        return bool(self.latent_split and self.latent_split.categorical)

    @property
    def latent(self) -> Field | None:
        """A VAE's continuous latent means, which leave the chip beside the score."""
        fields = self.latents
        return fields[0] if fields else None

    @property
    def latents(self) -> tuple[Field, ...]:
        """The network's outputs that leave the chip beside the score, in the last layer's order:
        a VAE's means (mu), then a JointVAE's categorical logits (alpha)."""
        split, last = self.latent_split, self.layers[-1]
        if split is None:
            return ()
        out = [Field("mu", split.continuous, last.result)]
        if split.n_logits:
            out.append(Field("alpha", split.n_logits, last.result))
        return tuple(out)

    @property
    def has_score(self) -> bool:
        """False for score "none": no score, no decision, no threshold port."""
        return self.score != "none"

    @property
    def fields(self) -> tuple[Field, ...]:
        """The RTL's data outputs in port order: latents (if any), score, decision; for score
        "none" the last layer's results alone."""
        if not self.has_score:
            last = self.layers[-1]
            return (Field(OUTPUT_FIELD, last.units, last.result),)
        return (*self.latents, Field("score", 1, self.score_format), Field(self.decision, 1, DECISION_FORMAT))

    @property
    def output_columns(self) -> list[str]:
        return [c for f in self.fields for c in f.columns]

    @property
    def reference_dir(self) -> Path:
        return self.path / "reference"

    @property
    def vectors_dir(self) -> Path:
        return self.path / "vectors"

    def profile(self, name: str) -> dict[str, Any]:
        profiles = self.training.get("profiles", {})
        if name not in profiles:
            raise DesignError(
                f"{self.path / DESIGN_FILE}: no training profile '{name}' (has {', '.join(profiles) or 'none'})"
            )
        return {k: v for k, v in self.training.items() if k != "profiles"} | profiles[name]


# --- reading and checking a description -------------------------------------------------------


def resolve(name_or_path: str | Path) -> Path:
    """A design name (golden/<name>), a design folder, or a design.toml -> the design's folder."""
    p = Path(name_or_path)
    if p.suffix == ".toml":
        return p.parent
    if p.is_dir() and (p / DESIGN_FILE).is_file():
        return p
    return DESIGNS_ROOT / str(name_or_path)


def names() -> list[str]:
    return sorted(p.parent.name for p in DESIGNS_ROOT.glob(f"*/{DESIGN_FILE}"))


def load(name_or_path: str | Path = DEFAULT_DESIGN) -> Design:
    folder = resolve(name_or_path)
    src = folder / DESIGN_FILE
    if not src.is_file():
        known = ", ".join(names()) or "none"
        raise DesignError(f"{src}: no design description (known designs: {known}; see `pixvae designs`)")
    try:
        doc = tomllib.loads(src.read_text())
    except tomllib.TOMLDecodeError as e:
        raise DesignError(f"{src}: not valid TOML ({e})") from None
    return parse(doc, folder)


def _get(
    doc: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, src: Path, default: Any = ...
) -> Any:
    if key not in doc:
        if default is ...:
            raise DesignError(f"{src}: {where}'{key}' missing")
        return default
    value = doc[key]
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise DesignError(f"{src}: {where}'{key}' = {value!r} must be a number")
    if not isinstance(value, kind):
        raise DesignError(f"{src}: {where}'{key}' = {value!r} has the wrong type")
    return value


def _fmt(doc: dict[str, Any], key: str, where: str, src: Path) -> FixedFormat:
    try:
        return F.parse(_get(doc, key, str, where, src))
    except ValueError as e:
        raise DesignError(f"{src}: {where}'{key}': {e}") from None


def _unknown_keys(doc: dict[str, Any], src: Path) -> None:
    """Refuse a key no table of the format has, naming it, its table and the closest known key.
    Tables of the wrong type are left to the checks of parse(), which name them."""

    def check(table: Any, where: str, known: tuple[str, ...]) -> None:
        if not isinstance(table, dict):
            return
        for key in table:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
                raise DesignError(f"{src}: unknown key '{key}' in {where or 'the top level'}; {hint}")

    check(doc, "", TABLE_KEYS[""])
    for section in ("input", "outputs", "latent", "rtl", "decoder", "threshold", "check", "training"):
        check(doc.get(section), f"[{section}]", TABLE_KEYS[f"[{section}]"])
    chk = doc.get("check")
    for name, layers in (("layers", doc.get("layers")), ("check.layers", chk.get("layers") if isinstance(chk, dict)
                                                         else None)):
        for k, ly in enumerate(layers if isinstance(layers, list) else []):
            check(ly, f"[[{name}]] #{k + 1}", TABLE_KEYS[f"[[{name}]]"])
    training = doc.get("training")
    profiles = training.get("profiles", {}) if isinstance(training, dict) else {}
    if not isinstance(profiles, dict):
        raise DesignError(f"{src}: [training] 'profiles' must be tables [training.profiles.NAME]")
    for pname, prof in profiles.items():
        if not isinstance(prof, dict):
            raise DesignError(f"{src}: [training.profiles.{pname}] must be a table")
        check(prof, f"[training.profiles.{pname}]", TABLE_KEYS["[training.profiles.*]"])


def parse(doc: dict[str, Any], folder: Path) -> Design:
    """Check a description completely; every problem is one line naming the file and the key."""
    src = folder / DESIGN_FILE
    _unknown_keys(doc, src)
    name = _get(doc, "name", str, "", src)
    kind = _get(doc, "kind", str, "", src)
    if kind not in KINDS:
        raise DesignError(f"{src}: 'kind' = {kind!r}, expected one of {', '.join(KINDS)}")
    inp = _get(doc, "input", dict, "", src)
    in_fmt = _fmt(inp, "format", "[input] ", src)
    if "count" in inp:  # plain inputs (an imported model's): any format, no track encoding
        enc = None
        n_in = _get(inp, "count", int, "[input] ", src)
        track_keys = [k for k in ("charge_code", "bin_e", "alpha", "slices", "y0") if k in inp]
        if n_in < 1 or track_keys:
            raise DesignError(f"{src}: [input] 'count' = {n_in}: plain inputs need count >= 1 and no track "
                              f"encoding ({', '.join(track_keys) or 'none given'})")
        if in_fmt.width > 32:
            raise DesignError(f"{src}: [input] 'format' {in_fmt.hls()}: inputs are at most 32 bits wide")
        if kind != "classifier":
            raise DesignError(f"{src}: [input] 'count': plain inputs belong to a classifier (a vae_encoder "
                              "reconstructs a track encoding)")
    else:
        if in_fmt.signed or in_fmt.integer != 0:
            raise DesignError(f"{src}: [input] 'format' {in_fmt.hls()}: input codes must be ufixed<W,0> "
                              "(code / 2**W), or give 'count' plain inputs")
        code = _get(inp, "charge_code", str, "[input] ", src)
        if code not in CHARGE_CODES:
            raise DesignError(f"{src}: [input] 'charge_code' = {code!r}, expected one of {', '.join(CHARGE_CODES)}")
        slices = tuple(_get(inp, "slices", list, "[input] ", src))
        if not slices or any(not isinstance(s, int) or isinstance(s, bool) or not 0 <= s < 20 for s in slices):
            raise DesignError(f"{src}: [input] 'slices' must list time-slice indices 0..19")
        enc = Encoding(
            code,
            float(_get(inp, "bin_e", (int, float), "[input] ", src, 500.0)),
            float(_get(inp, "alpha", (int, float), "[input] ", src, 0.094)),
            slices,
            bool(_get(inp, "y0", bool, "[input] ", src, True)),
        )
        n_in = len(slices) * N_ROWS + int(enc.y0)

    seen = {"x"}  # layer names, the encoder's and the check's
    layers = _layers(_get(doc, "layers", list, "", src), n_in, in_fmt, src, "layers", seen)

    outs = _get(doc, "outputs", dict, "", src)
    score = _get(outs, "score", str, "[outputs] ", src)
    if score == "none":  # the last layer's results are the outputs: nothing to format or decide
        extra = [k for k in ("score_format", "decision", "dip_shift") if k in outs]
        if extra or kind != "classifier":
            raise DesignError(f"{src}: [outputs] 'score' none belongs to a classifier without "
                              f"{', '.join(extra) or 'score_format, decision'}")
    elif enc is None and score != "network":
        raise DesignError(f"{src}: [outputs] 'score' {score} needs a track encoding; plain inputs take none or network")
    score_fmt = layers[-1].result if score == "none" else _fmt(outs, "score_format", "[outputs] ", src)
    decision = "" if score == "none" else _get(outs, "decision", str, "[outputs] ", src)
    if score != "none" and not decision.isidentifier() or decision in ("mu", "alpha", "score", "valid", "data"):
        raise DesignError(
            f"{src}: [outputs] 'decision' = {decision!r} must be an identifier other than mu, alpha, score, valid, data"
        )
    last = layers[-1]
    dip_shift = _get(outs, "dip_shift", int, "[outputs] ", src, None)
    check = _check(doc, enc, n_in, in_fmt, src, seen)
    if check is not None and score not in ("kl_clipped", "kl_total"):
        raise DesignError(f"{src}: [check] belongs to a VAE's kl_clipped or kl_total score")
    split = _latent(doc, kind, score, last, src)
    exp_frac = _get(outs, "exp_frac", int, "[outputs] ", src, 8)
    sum_frac = _get(outs, "sum_frac", int, "[outputs] ", src, 6)
    if not 1 <= exp_frac <= 16 or not 0 <= sum_frac <= exp_frac:
        raise DesignError(f"{src}: [outputs] needs 1 <= exp_frac <= 16 and 0 <= sum_frac <= exp_frac")
    if score in ("kl_clipped", "kl_total"):
        if kind != "vae_encoder":
            raise DesignError(f"{src}: [outputs] 'score' {score} belongs to a vae_encoder")
        # Exact: the means' squares (2f + 1 fraction bits with the 0.5), the dips and the check scaled
        # by 2**shift need that many fraction bits; whether the format holds their largest sum is
        # the range analysis's (model/description/ranges.py), once the description is read.
        mu = last.result
        frac = 2 * mu.frac + 1
        if dip_shift is not None:
            frac = max(frac, -dip_shift)
        if check is not None:
            frac = max(frac, -check.shift)
        only_kl = dip_shift is None and check is None  # then exactly the KL's fraction bits
        if score_fmt.signed or score_fmt.frac < frac or (only_kl and score_fmt.frac != frac):
            what = "0.5*sum(mu^2)" + (f" + dips * 2**{dip_shift}" if dip_shift is not None else "") + (
                " + the discrete KL" if split.categorical else "") + (
                f" + the check * 2**{check.shift}" if check is not None else "")
            raise DesignError(
                f"{src}: [outputs] 'score_format' {score_fmt.hls()} cannot hold {what} exactly for "
                f"{split.continuous} means of {mu.hls()} (needs ufixed with {frac} fraction bits)"
            )
    elif score == "none":
        pass
    elif score == "network":
        if dip_shift is not None:
            raise DesignError(f"{src}: [outputs] 'dip_shift' belongs to a kl_clipped score")
        if last.units != 1:
            raise DesignError(
                f"{src}: [outputs] 'score' network needs a last layer of 1 unit, '{last.name}' has {last.units}"
            )
        if score_fmt != last.result:
            raise DesignError(
                f"{src}: [outputs] 'score_format' {score_fmt.hls()} must equal the last layer's "
                f"result {last.result.hls()}"
            )
    else:
        raise DesignError(f"{src}: [outputs] 'score' = {score!r}, expected one of {', '.join(SCORES)}")

    thr = _get(doc, "threshold", dict, "", src, {})
    on = _get(thr, "on", str, "[threshold] ", src, "normal")
    q = float(_get(thr, "quantile", (int, float), "[threshold] ", src, 0.99))
    if on not in ("normal", "signal") or not 0 <= q <= 1:
        raise DesignError(f"{src}: [threshold] needs on = normal|signal and 0 <= quantile <= 1")
    if enc is None and on == "signal":
        raise DesignError(f"{src}: [threshold] on = signal needs tracks' labels; plain inputs have none")
    training = _get(doc, "training", dict, "", src, {})
    sparsity = float(_get(training, "sparsity", (int, float), "[training] ", src, 0.0))
    if not 0 <= sparsity < 1:
        raise DesignError(f"{src}: [training] 'sparsity' = {sparsity} must be in [0, 1)")
    rtl = _get(doc, "rtl", dict, "", src, {})
    adder_levels = _get(rtl, "adder_levels", int, "[rtl] ", src, DEFAULT_ADDER_LEVELS)
    if adder_levels < 1:
        raise DesignError(f"{src}: [rtl] 'adder_levels' = {adder_levels} must be >= 1")
    depth_slack = _get(rtl, "depth_slack", int, "[rtl] ", src, -1)
    budget_ns = float(_get(rtl, "budget_ns", (int, float), "[rtl] ", src, DEFAULT_BUDGET_NS))
    if not budget_ns > 0:
        raise DesignError(f"{src}: [rtl] 'budget_ns' = {budget_ns} must be > 0")
    if depth_slack < -1:
        raise DesignError(f"{src}: [rtl] 'depth_slack' = {depth_slack} must be -1 (no limit) or >= 0")
    decoder = _decoder(doc, kind, enc, layers, src)
    paper = _get(doc, "paper", dict, "", src, {})
    if name != folder.name:
        raise DesignError(f"{src}: 'name' = {name!r} must equal the design's folder name {folder.name!r}")
    for pname, prof in training.get("profiles", {}).items():
        for key in ("n_tracks", "epochs"):
            if not isinstance(prof.get(key), int) or prof[key] < 1:
                raise DesignError(f"{src}: [training.profiles.{pname}] '{key}' must be an integer >= 1")
        cfg = {k: v for k, v in training.items() if k != "profiles"} | prof
        beta = {k: cfg[k] for k in BETA_ANNEAL if k in cfg}
        if beta and (len(beta) != 3 or any(isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0
                                           for v in beta.values()) or beta["beta_min"] > beta["beta_max"]):
            raise DesignError(f"{src}: [training.profiles.{pname}] a beta anneal needs {', '.join(BETA_ANNEAL)} "
                              "> 0 with beta_min <= beta_max")
    design = Design(
        name,
        kind,
        str(doc.get("description", "")),
        folder,
        in_fmt,
        enc,
        tuple(layers),
        score,
        score_fmt,
        decision,
        on,
        q,
        sparsity,
        training,
        adder_levels,
        depth_slack,
        decoder,
        paper,
        dip_shift,
        split,
        exp_frac,
        sum_frac,
        check,
        budget_ns,
    )
    from model.description import ranges  # it reads Design: imported here, not at the top

    for where, problem in ranges.analyse(design).problems():  # every weight anywhere in its format
        raise DesignError(f"{src}: {where} {problem}")
    return design


def _layers(raw_layers: list[Any], n_in: int, in_fmt: FixedFormat, src: Path, section: str,
            seen: set[str]) -> list[Dense]:
    """Dense layers of a [[section]] list, each checked: names new (added to `seen`), QKeras
    formats, an exact accumulator (whether it can overflow: model/description/ranges.py, in parse)."""
    if not raw_layers:
        raise DesignError(f"{src}: '{section}' is empty")
    layers: list[Dense] = []
    for k, ly in enumerate(raw_layers):
        where = f"[[{section}]] #{k + 1} "
        if not isinstance(ly, dict):
            raise DesignError(f"{src}: {where}is not a table")
        lname = _get(ly, "name", str, where, src)
        if not lname.isidentifier() or lname in seen:
            raise DesignError(f"{src}: {where}'name' = {lname!r} must be a new identifier (not x or another layer's)")
        seen.add(lname)
        units = _get(ly, "units", int, where, src)
        if units < 1:
            raise DesignError(f"{src}: {where}'units' = {units} must be >= 1")
        act = _get(ly, "activation", str, where, src)
        if act not in ACTIVATIONS:
            raise DesignError(f"{src}: {where}'activation' = {act!r}, expected one of {', '.join(ACTIVATIONS)}")
        fmts = {key: _fmt(ly, key, where, src) for key in ("weight", "bias", "accum", "result")}
        res = fmts["result"]
        # QKeras quantizers round half to even and saturate: the declared result must say so.
        if (res.rounding, res.overflow) != ("RND_CONV", "SAT"):
            raise DesignError(
                f"{src}: {where}'result' {res.hls()}: QKeras activations round half to even and "
                "saturate; declare RND_CONV,SAT"
            )
        if act == "relu" and res.signed:
            raise DesignError(f"{src}: {where}'result' {res.hls()}: a ReLU result is unsigned (ufixed)")
        if act == "linear" and not res.signed:
            raise DesignError(f"{src}: {where}'result' {res.hls()}: a linear result is signed (fixed)")
        for key in ("weight", "bias"):
            if not fmts[key].signed:
                raise DesignError(f"{src}: {where}'{key}' {fmts[key].hls()} must be signed (QKeras quantized_bits)")
        prev_frac = in_fmt.frac if not layers else layers[-1].result.frac
        if fmts["accum"].frac < prev_frac + fmts["weight"].frac or fmts["accum"].frac < fmts["bias"].frac:
            raise DesignError(
                f"{src}: {where}'accum' {fmts['accum'].hls()} has fewer fraction bits than the "
                f"products ({prev_frac + fmts['weight'].frac}): the sum would not be exact"
            )
        fan_in = n_in if not layers else layers[-1].units
        # Whether the accumulator can wrap is the range analysis's (model/description/ranges.py), after parsing.
        layers.append(Dense(lname, fan_in, units, act, **fmts))
    return layers


def _check(doc: dict[str, Any], enc: Encoding | None, n_in: int, in_fmt: FixedFormat, src: Path,
           seen: set[str]) -> Check | None:
    """A VAE's [check] of its input profiles (Check): its window, score shift and [[check.layers]]."""
    if "check" not in doc:
        return None
    if enc is None:
        raise DesignError(f"{src}: [check] reads track profiles; plain inputs ([input] count) have none")
    chk = _get(doc, "check", dict, "", src)
    window = _get(chk, "window", int, "[check] ", src)
    shift = _get(chk, "shift", int, "[check] ", src)
    y0 = _get(chk, "y0", bool, "[check] ", src)
    input_frac = _get(chk, "input_frac", int, "[check] ", src, in_fmt.frac)
    if not 1 <= input_frac <= in_fmt.frac:
        raise DesignError(f"{src}: [check] 'input_frac' = {input_frac} must be 1..{in_fmt.frac} (the input's bits)")
    chk_in = FixedFormat(input_frac, 0, signed=False)
    if not 1 <= window < N_ROWS:
        raise DesignError(f"{src}: [check] 'window' = {window} must be 1..{N_ROWS - 1} rows")
    if y0 and not enc.y0:
        raise DesignError(f"{src}: [check] y0 = true needs y0 among the inputs ([input] y0 = true)")
    layers = _layers(_get(chk, "layers", list, "[check] ", src), n_in, chk_in, src, "check.layers", seen)
    n_profile = len(enc.slices) * N_ROWS
    for k, ly in enumerate(layers[:-1]):
        if ly.units % N_ROWS or ly.activation != "relu":
            raise DesignError(f"{src}: [[check.layers]] #{k + 1} '{ly.name}': a hidden layer of the check is ReLU "
                              f"with units a multiple of {N_ROWS} (grouped by row), found {ly.units} {ly.activation}")
    last = layers[-1]
    if len(layers) < 2 or last.units != n_profile or last.activation != "linear" or last.result.frac != input_frac:
        raise DesignError(f"{src}: [[check.layers]] the last layer '{last.name}' predicts the {n_profile} profile "
                          f"inputs: linear, {n_profile} units, result with the check's {input_frac} input fraction "
                          "bits, after at least one hidden layer")
    return Check(window, shift, len(enc.slices), y0, input_frac, tuple(layers))


def _latent(doc: dict[str, Any], kind: str, score: str, last: Dense, src: Path) -> Latent | None:
    """A VAE's [latent] split of the last layer: all continuous unless categorical logits follow."""
    if kind != "vae_encoder":
        if "latent" in doc:
            raise DesignError(f"{src}: [latent] belongs to a vae_encoder design")
        return None
    lat = _get(doc, "latent", dict, "", src, {})
    cats = _get(lat, "categorical", list, "[latent] ", src, [])
    if any(isinstance(k, bool) or not isinstance(k, int) or k < 2 for k in cats):
        raise DesignError(f"{src}: [latent] 'categorical' must list category counts >= 2")
    cont = _get(lat, "continuous", int, "[latent] ", src, last.units - sum(cats))
    if cont < 1 or cont + sum(cats) != last.units:
        raise DesignError(f"{src}: [latent] {cont} continuous + {sum(cats)} logits must equal the "
                          f"{last.units} units of the last layer '{last.name}'")
    if (score == "kl_total") != bool(cats):
        raise DesignError(f"{src}: [outputs] 'score' kl_total goes with [latent] 'categorical' (a JointVAE), "
                          "kl_clipped without")
    if cats and last.activation != "linear":
        raise DesignError(f"{src}: [latent] the last layer '{last.name}' gives logits: its activation must be linear")
    return Latent(cont, tuple(cats))


def _decoder(doc: dict[str, Any], kind: str, enc: Encoding, layers: list[Dense], src: Path) -> Decoder | None:
    """A vae_encoder's [decoder]; without one, one hidden layer as wide as the encoder's widest
    reconstructs the encoder's own inputs."""
    if kind != "vae_encoder":
        if "decoder" in doc:
            raise DesignError(f"{src}: [decoder] belongs to a vae_encoder design")
        return None
    dec = _get(doc, "decoder", dict, "", src, {})
    units = _get(dec, "units", list, "[decoder] ", src, [max(ly.units for ly in layers)])
    if not units or any(isinstance(u, bool) or not isinstance(u, int) or u < 1 for u in units):
        raise DesignError(f"{src}: [decoder] 'units' must list layer widths >= 1")
    slices = tuple(_get(dec, "slices", list, "[decoder] ", src, list(enc.slices)))
    if not slices or any(not isinstance(s, int) or isinstance(s, bool) or not 0 <= s < 20 for s in slices):
        raise DesignError(f"{src}: [decoder] 'slices' must list time-slice indices 0..19")
    fmts = {key: _fmt(dec, key, "[decoder] ", src) if key in dec else F.parse(default)
            for key, default in (("weight", "fixed<8,1>"), ("bias", "fixed<8,4>"),
                                 ("result", "ufixed<8,3,RND_CONV,SAT>"))}
    if not fmts["weight"].signed or not fmts["bias"].signed or fmts["result"].signed:
        raise DesignError(f"{src}: [decoder] weight and bias are signed (fixed), the ReLU result unsigned (ufixed)")
    return Decoder(tuple(units), slices, bool(_get(dec, "y0", bool, "[decoder] ", src, enc.y0)), **fmts)
