"""The model-change report and the never-overwrite rule of the candidate pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from hw import clock
from hw import golden as G
from hw import rtl as R
from model.fixed import reference
from pixvae import candidate as C


def test_change_report_of_identical_models_has_zero_deltas(ref: reference.Reference, golden: G.Golden,
                                                           rtl_dir: Path) -> None:
    rtl = (R.load_meta(rtl_dir), clock.resolve(ref.design, rtl_dir))
    sim = {"passed": True, "vectors": len(golden), "mismatched_fields": 0, "latency_ns": 20.0}
    rep = C.change_report(ref, golden, rtl, ref, golden, rtl, sim)
    assert rep["committed"] == rep["candidate"]
    # Latency in ns at the period the committed timing report closed for this RTL, and it says so.
    assert rep["candidate"]["latency_ns"] == round(rtl[0].latency_cycles * rtl[1].period_ns, 4)
    assert rep["candidate"]["clock_source"].startswith("closed by ")
    assert 0.0 <= rep["candidate"]["auc_loud_pixel"] <= 1.0
    md = C.markdown(rep, "v-test")
    assert "| latency_cycles |" in md and "+0 |" in md and "da4ml" in md
    assert f"{rep['sample_sizes']['normal']} normal tracks" in md


def test_existing_candidate_folder_is_never_overwritten(vae_low, tmp_path: Path) -> None:
    (tmp_path / "v1").mkdir()
    with pytest.raises(G.GoldenError, match="never overwritten"):
        C.run(vae_low, version="v1", build_root=tmp_path / "build", candidates=tmp_path)
