"""Words for every figure the reports show, derived from the design, so that no report can call a
design's score or a figure by another design's name: one place for the names, units and notes."""

from __future__ import annotations

from model.description.design import Design

DEFECT_WORDS = {"dead_pixel": "dead pixel", "dead_row": "dead row", "loud_pixel": "loud pixel"}
VARIABLE_WORDS = {"pt": ("|pT|", "GeV"), "cotBeta": ("cot β (bend direction)", ""),
                  "y0_mm": ("y0 (y-local)", "mm"), "cluster_size": ("cluster size (last slice, > 400 e)", "pixels"),
                  "defect_charge_e": ("charge the defect removed or replaced", "e"),
                  "defect_row": ("defect's row", "row")}


def score_words(design: Design) -> str:
    """What the design's on-chip score computes, in words, from its description."""
    if design.score == "network":
        return "the classifier's output (logit)"
    terms = ["0.5 Σ μ²"] if design.score == "kl_clipped" else ["0.5 Σ μ² + discrete KL of the logits"]
    if design.dip_shift is not None:
        terms.append(f"2^{design.dip_shift} × profile dips")
    if design.check is not None:
        terms.append(f"2^{design.check.shift} × profile check")
    return " + ".join(terms)


def figure(design: Design, key: str, sub: str = "") -> tuple[str, str]:
    """(name in words, unit) of a metrics.json figure for this design; `sub` a defect kind."""
    classifier = design.kind == "classifier"
    defect = DEFECT_WORDS.get(sub, sub)
    names = {
        "percent_error_mean": ("Reconstruction error, mean (decoded from the on-chip latents, 8 slices)", "%"),
        "percent_error_median": ("Reconstruction error, median", "%"),
        "percent_error_codes_mean": ("Reconstruction error against the truth's codes (the network alone), mean", "%"),
        "percent_error_codes_median": ("Reconstruction error against the truth's codes, median", "%"),
        "percent_error_codespace_mean": ("Reconstruction error in code space (no charge decoding), mean", "%"),
        "percent_error_code_floor_mean": ("Error floor of the charge coding (truth codes decoded), mean", "%"),
        "compressed_size": (("Tracks kept at 93% signal efficiency" if classifier
                             else "Compressed size (latents sent instead of the track)"), "% of raw"),
        "compressed_size_1pct_raw": ("Compressed size with 1% of normal tracks sent raw", "% of raw"),
        "br_at_se93": (("On-chip pileup rejection" if classifier else "Pileup rejection on decoded tracks")
                       + " at 93% signal efficiency (|pT| > 2 GeV)", "%"),
        "br_at_se98": (("On-chip pileup rejection" if classifier else "Pileup rejection on decoded tracks")
                       + " at 98% signal efficiency", "%"),
        "br_at_se93_uncompressed": ("Pileup rejection on uncompressed codes at 93% signal efficiency", "%"),
        "br_at_se98_uncompressed": ("Pileup rejection on uncompressed codes at 98% signal efficiency", "%"),
        "ad_eff_at_br90": (f"{defect.capitalize()} tracks flagged at 90% normal-track rejection", "%"),
        "ad_auc": (f"{defect.capitalize()} detection, ROC AUC", "%"),
    }
    if key not in names:
        raise KeyError(f"no words for the figure '{key}': add them to pixvae/labels.py")
    return names[key]
