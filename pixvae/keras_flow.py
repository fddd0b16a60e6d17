"""A user's own QKeras model through the harness: import it as a design with its own weights, and
check the RTL against the model's own predict and hls4ml's C simulation."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np

from hw import hls
from model.description import design as D
from model.description import formats as F
from model.description import keras_import as K
from model.fixed import reference
from tb import stimulus


def import_model(name: str, model_path: Path, folder: Path, input_format: str | None,
                 budget_ns: float) -> list[str]:
    """Write folder/design.toml and folder/reference from the model; every check before any write."""
    try:
        in_fmt = F.parse(input_format) if input_format else None
    except ValueError as e:
        raise D.DesignError(f"--input-format: {e}") from None
    model_path = Path(model_path)
    model = K.load_model(model_path)
    digest = K.sha256(model_path)
    text, gs = K.to_design_text(name, model, model_path, digest, in_fmt, budget_ns)
    design = D.parse(tomllib.loads(text), folder)  # the description's own checks, ranges included
    net = K.integer_network(design, gs)
    reference.check_ranges(net, folder / D.DESIGN_FILE)
    # The integer model must compute what the Keras model does: checked on the random and corner inputs.
    codes = np.concatenate([stimulus.random_codes(design, 200, 7), stimulus.corner_codes(design)])
    ours, keras = net.forward(codes), K.predict_raw(design, model, codes)
    differ = int(np.sum(ours != keras))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / D.DESIGN_FILE).write_text(text)
    meta = {"source": {"keras_model": str(model_path), "sha256": digest},
            "imported_by": f"pixvae designs new {name} --from-keras",
            "numpy_integer_vs_keras_predict": {"outputs_compared": int(ours.size), "mismatched_outputs": differ}}
    digest_ref = reference.save(design.reference_dir, net, hls.hls_config(design), meta)
    layers = " -> ".join([str(design.n_inputs)] + [f"{ly.units} {ly.activation} {ly.result.hls(False)}"
                                                   for ly in design.layers])
    return [f"created {folder / D.DESIGN_FILE} and {design.reference_dir} (model {digest_ref[:12]}) from "
            f"{model_path} (sha256 {digest[:12]})",
            f"layers: {design.input_format.hls()} x {layers}",
            f"numpy integer model vs the Keras model's predict on {len(codes)} random and corner inputs: "
            f"{differ} of {ours.size} outputs differ",
            f"next: pixvae golden --design {folder} --inputs X.npy --out {folder / 'vectors'}"]


def check_against_keras(design: D.Design, ref: reference.Reference, model_path: Path, codes: np.ndarray,
                        rtl_last: np.ndarray, hls_dir: Path, hm=None) -> tuple[list[str], int]:
    """Lines comparing the RTL's last-layer outputs with the Keras model's predict, hls4ml's C
    simulation (`hm`, else converted and compiled in hls_dir) and the numpy integer model on the
    same inputs; and the number of differing outputs."""
    model = K.load_model(model_path)
    keras = K.predict_raw(design, model, codes)
    hm = hm or hls.convert(design, reference.to_keras(ref.network), ref.hls_config, hls_dir)
    csim = hls.csim_raw(design, hm, codes)
    numpy = ref.network.forward(codes)
    lines, bad = [], 0
    for who, y in (("the Keras model's predict", keras), ("hls4ml's C simulation", csim),
                   ("the numpy integer model", numpy)):
        n = int(np.sum(np.asarray(y, dtype=np.float64).reshape(rtl_last.shape) != rtl_last))
        bad += n
        lines.append(f"RTL vs {who}: {n} of {rtl_last.size} outputs differ")
    return lines, bad
