"""Readout, encodings and encoder-input layout, checked against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from model.data.dataformat import LABEL_COLUMNS, TrackSet
from model.data.features import (
    N_ENCODER_INPUTS,
    N_MODEL_FEATURES,
    encode_4bit,
    encode_10bit,
    encode_y0_4bit,
    encoder_inputs,
    model_features,
    readout,
    y_cluster_width,
    y_profiles,
)


def _one_track(charges: np.ndarray, y_local: float) -> TrackSet:
    labels = pd.DataFrame(np.zeros((1, len(LABEL_COLUMNS))), columns=list(LABEL_COLUMNS))
    labels["y-local"] = y_local
    return TrackSet(charges[None], labels)


def test_4bit_bin_edges() -> None:
    q = np.array([-300.0, 0.0, 499.9, 500.0, 999.9, 1000.0, 7499.0, 7500.0, 7999.0, 8000.0, 1e6])
    assert encode_4bit(q).tolist() == [0, 0, 0, 1, 1, 2, 14, 15, 15, 15, 15]
    assert encode_4bit(q).dtype == np.uint8


def test_y0_codes() -> None:
    y = np.array([-8.1, -8.0, -7.01, -7.0, -0.5, 0.0, 0.99, 1.0, 7.99, 8.0, 8.1])
    assert encode_y0_4bit(y).tolist() == [0, 0, 0, 1, 7, 8, 8, 9, 15, 15, 15]


def test_10bit_endpoints() -> None:
    # sqrt(0.094 ln q) = 1 at q = exp(1/0.094) ~ 41,800 e; 0.5 at q = exp(0.25/0.094) -> 0.5 * 1024 = 512.
    q = np.array([-5.0, 0.0, 0.5, 1.0, np.exp(0.25 / 0.094), np.exp(1 / 0.094), 1e9])
    codes = encode_10bit(q)
    assert codes.dtype == np.uint16
    assert codes.tolist() == [0, 0, 0, 0, 512, 1023, 1023]
    # Nearest multiple of 1/1024: v = 0.4/1024 -> 0, v = 1.2/1024 -> 1, v = 700.4/1024 -> 700.
    v = np.array([0.4, 1.2, 700.4]) / 1024
    assert encode_10bit(np.exp(v**2 / 0.094)).tolist() == [0, 1, 700]


def test_encoder_input_layout_by_hand() -> None:
    charges = np.zeros((20, 13, 21), np.float32)
    charges[0, 6, 10] = 1200.0  # slice 0 row 6 -> 1200 e -> code 2
    charges[0, 6, 11] = 400.0  # same row: 1600 e -> code 3
    charges[1, 0, 0] = 8000.0  # slice 1 row 0 -> overflow -> 15
    charges[2, 12, 20] = 499.0  # slice 2 row 12 -> code 0
    charges[3, 3, 5] = 5000.0  # slice 3 row 3 -> code 10
    charges[3, 3, 6] = -600.0  # induced charge lowers the row sum: 4400 e -> code 8
    charges[4, 7, 7] = 9000.0  # slice 4 is not an encoder input
    expected = np.zeros(53, np.uint8)
    expected[0 * 13 + 6] = 3
    expected[1 * 13 + 0] = 15
    expected[3 * 13 + 3] = 8
    expected[52] = 5  # y0 = -2.5 mm -> bin [-3, -2) -> code 5
    inputs = encoder_inputs(_one_track(charges, -2.5), apply_readout=False)
    assert inputs.shape == (1, N_ENCODER_INPUTS) and inputs.dtype == np.uint8
    assert inputs[0].tolist() == expected.tolist()


def test_readout_noise_threshold_and_slice_streams() -> None:
    charges = np.zeros((2000, 5, 13, 21), np.float32)
    charges[:, :, 6, 10] = 1000.0
    out = readout(charges, noise_e=80.0, threshold_e=400.0, seed=3)
    assert out.dtype == np.float32 and out.shape == charges.shape
    assert np.all((out == 0) | (out >= 400.0))
    hit = out[:, :, 6, 10]
    assert abs(hit.std() - 80.0) < 5.0 and abs(hit.mean() - 1000.0) < 5.0
    assert (out[:, :, 0, 0] > 0).mean() == 0.0  # 5 sigma of noise never crosses 400 e
    assert np.array_equal(readout(charges, seed=3, slices=[4, 1]), out[:, [4, 1]])
    assert np.array_equal(readout(charges, noise_e=0.0, threshold_e=400.0), charges)
    assert not np.array_equal(readout(charges, seed=4), out)


def test_profiles_features_and_width() -> None:
    charges = np.zeros((20, 13, 21), np.float32)
    charges[:, 4, :] = 100.0  # 2100 e per slice in row 4
    charges[-1, 5, 0] = 401.0
    ts = _one_track(charges, 4.0)
    profiles = y_profiles(ts.charges)
    assert profiles.shape == (1, 8, 13) and profiles[0, 0, 4] == 2100.0
    features = model_features(ts, apply_readout=False)
    assert features.shape == (1, N_MODEL_FEATURES)
    assert features[0, 4] == 2100.0 and features[0, 13 + 4] == 2100.0 and features[0, -1] == 0.5
    assert y_cluster_width(ts.charges).tolist() == [2]


def test_shape_errors_name_expected_and_found() -> None:
    with pytest.raises(ValueError, match=r"expected shape \(n, T>=1, 13, 21\), found \(4, 13, 21\)"):
        readout(np.zeros((4, 13, 21)))
    with pytest.raises(ValueError, match=r"expected shape \(n, T>=8, 13, 21\), found \(1, 4, 13, 21\)"):
        y_profiles(np.zeros((1, 4, 13, 21)))
