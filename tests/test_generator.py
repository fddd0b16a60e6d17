"""Generator checked against the published figures of the real (PixelAV) smart-pixel dataset.

Published (older release, 217,754 clusters): number_eh_pairs mean 23,441 and std 17,402;
y-local within -8.05..8.18 mm; |pt| <= 5 GeV; cotAlpha within +-8 (std 2.96); cotBeta within
+-0.50 (std 0.152); pixel charges from about -3,800 to 41,600 e.
"""

from __future__ import annotations

import numpy as np
import pytest

from model.data.dataformat import TrackSet
from model.data.features import y_cluster_width
from model.data.generator import GeneratorConfig, generate

N_TRACKS = 10_000


@pytest.fixture(scope="module")
def falling() -> TrackSet:
    return generate(N_TRACKS, "falling", seed=11, progress=False, workers=2)


def test_total_charge_matches_published(falling: TrackSet) -> None:
    pairs = falling.labels["number_eh_pairs"].to_numpy(np.float64)
    # Statistical error at 10k tracks: 0.7% on the mean, ~3% on the std (Landau tail); the single
    # calibration knob (delta_cut_kev) was fit on 60k tracks to within 1% (mean) / 2.5% (std).
    assert pairs.mean() == pytest.approx(23_441, rel=0.04)
    assert pairs.std() == pytest.approx(17_402, rel=0.08)
    # Landau is narrower than Bichsel straggling on the low side, so our minimum sits higher than
    # the published 3,753 e; it must still be well below the most probable ~7,000 e.
    assert 3_000 < pairs.min() < 6_000


def test_label_ranges_and_relations(falling: TrackSet) -> None:
    lab = falling.labels
    assert lab["y-local"].abs().max() <= 8.1
    assert lab["pt"].abs().max() <= 5.0 and lab["pt"].abs().min() >= 0.1
    assert lab["pt"].std() == pytest.approx(1.52, rel=0.05)  # published 1.52
    assert np.percentile(lab["pt"], 75) == pytest.approx(1.17, rel=0.06)  # published quartiles +-1.17
    assert lab["cotBeta"].abs().max() <= 0.5
    assert lab["cotBeta"].std() == pytest.approx(0.152, rel=0.06)
    assert lab["cotAlpha"].abs().max() <= 8.0
    assert lab["cotAlpha"].std() == pytest.approx(2.96, rel=0.05)
    assert (lab["n_z"] < 0).all() and (lab["z-entry"] == 100.0).all()
    np.testing.assert_allclose(lab["n_x"] / lab["n_z"], lab["cotAlpha"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lab["n_y"] / lab["n_z"], lab["cotBeta"], rtol=1e-5, atol=1e-6)
    # midplane = entry + cot * (thickness / 2 - z-entry), thickness 100 um
    np.testing.assert_allclose(lab["y-entry"] - 50 * lab["cotBeta"], lab["y-midplane"], atol=1e-3)
    np.testing.assert_allclose(lab["x-entry"] - 50 * lab["cotAlpha"], lab["x-midplane"], atol=1e-3)
    assert lab["y-midplane"].abs().max() <= 18.75 and lab["x-midplane"].abs().max() <= 75.0


def test_pixel_charges_make_9000_e_a_loud_value(falling: TrackSet) -> None:
    brightest = falling.charges[:, -1].reshape(N_TRACKS, -1).max(axis=1)
    # A 9,000 e pixel must stand out on a typical track (median brightest pixel ~4.7k) yet stay a
    # physical value: below the 99th percentile (~12.4k) and far below the published 41,600 e.
    assert np.median(brightest) < 9_000 < np.percentile(brightest, 99) < 41_600


def test_induced_charge_signs(falling: TrackSet) -> None:
    q = falling.charges
    # Neighbours see negative induced charge while carriers drift; published minimum ~ -3,800 e.
    assert (q < -100).any()
    assert q.min() > -4_500
    assert q[:, -1].min() >= -1e-2  # after collection only collected electrons remain


def test_collection_is_monotone_and_complete(falling: TrackSet) -> None:
    totals = falling.charges.sum(axis=(2, 3), dtype=np.float64)
    # Ramo: the window total is sum(n * (z_h - z_e) / D) while clouds stay inside, non-decreasing.
    assert np.all(np.diff(totals, axis=1) >= -1e-3 * totals[:, -1:])
    collected = totals[:, -1] / falling.labels["number_eh_pairs"].to_numpy()
    # Only charge outside the 21 x 13 window is lost: tracks reach at most +-475 um of the +-525 um
    # in x, but a large delta-ray deposit is spread over its range (sigma up to ~45 um) and can
    # spill past the +-81 um window edge in y. Measured: 98.9% of tracks keep > 99%, worst 79%.
    assert np.median(collected) == pytest.approx(1.0, abs=1e-5)
    assert np.mean(collected > 0.99) > 0.98 and collected.min() > 0.7
    # At 200 ps electrons have drifted 16 um and holes 8 um of the 100 um: induced < (16 + 8) / 100
    # plus what was born within 16 um of the pixels; measured at most 25%.
    assert np.all(totals[:, 0] < 0.35 * totals[:, -1])


def test_y_width_follows_crossing_angle_and_bending(falling: TrackSet) -> None:
    lab = falling.labels
    width = y_cluster_width(falling.charges)
    cfg = GeneratorConfig()
    tan_l = cfg.tan_lorentz(cfg.v_electron_um_per_ns, cfg.hall_factor_electron)
    # Electrons from depth z land at y0 + (cotBeta + tan_L) z: the width grows with |cotBeta + tan_L|.
    slope = np.abs(lab["cotBeta"] + tan_l).to_numpy()
    assert width[slope > 0.45].mean() > width[slope < 0.15].mean() + 2.0
    # Bending adds to (q > 0) or cancels (q < 0) the Lorentz drift, so low-pT clusters are wider
    # for one charge than the other; high-pT tracks barely bend. Averaged over both charges the
    # mean width hardly depends on pT, because tan_L (0.33) exceeds the geometric angle (<= 0.27).
    pt = lab["pt"].to_numpy()

    def charge_asymmetry(lo: float, hi: float) -> tuple[float, float]:
        pos, neg = width[(pt > lo) & (pt < hi)], width[(pt < -lo) & (pt > -hi)]
        return pos.mean() - neg.mean(), float(np.sqrt(pos.var() / len(pos) + neg.var() / len(neg)))

    low, low_err = charge_asymmetry(0.1, 0.5)
    high, high_err = charge_asymmetry(2.0, 5.0)
    assert low > 0.4  # measured 0.73 +- 0.09 rows
    assert low - high > 3 * np.hypot(low_err, high_err)


def test_same_seed_same_output_whatever_the_workers() -> None:
    one = generate(700, seed=3, progress=False, workers=1)
    two = generate(700, seed=3, progress=False, workers=2)
    assert one.charges.tobytes() == two.charges.tobytes() and one.labels.equals(two.labels)
    prefix = generate(520, seed=3, progress=False, workers=1)  # a different split of the same blocks
    assert prefix.charges.tobytes() == one.charges[:520].tobytes()
    assert prefix.labels.equals(one.labels.iloc[:520].reset_index(drop=True))
    other = generate(700, seed=4, progress=False, workers=1)
    assert not np.array_equal(other.charges, one.charges)


def test_flat_spectrum_and_readout_option() -> None:
    flat = generate(600, "flat", seed=2, progress=False, workers=1, readout=True)
    pt = flat.labels["pt"].abs()
    assert flat.n_slices == 20 and pt.min() >= 0.1 and pt.max() <= 5.0 and pt.mean() == pytest.approx(2.55, rel=0.08)
    q = flat.charges
    assert np.all((q == 0) | (q >= 400.0))  # noise and threshold baked in
    with pytest.raises(ValueError, match="spectrum"):
        generate(10, "steep", progress=False)
