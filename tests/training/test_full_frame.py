import numpy as np

from isla_nnunet.training.full_frame import full_frame_dataset_class, uncrop


def _cropped_case():
    rng = np.random.default_rng(0)
    full = rng.normal(size=(2, 6, 10, 8)).astype(np.float32)
    labels = (rng.random((1, 6, 10, 8)) > 0.8).astype(np.int16)
    box = [[1, 5], [2, 9], [0, 7]]
    crop = tuple(slice(lo, hi) for lo, hi in box)
    properties = {"shape_before_cropping": (6, 10, 8), "bbox_used_for_cropping": box}
    return full, labels, crop, properties


def test_uncrop_puts_the_crop_back_where_it_was():
    full, labels, crop, properties = _cropped_case()
    data, seg = uncrop(full[(slice(None), *crop)], labels[(slice(None), *crop)], properties)
    assert data.shape == full.shape and seg.shape == labels.shape
    np.testing.assert_array_equal(data[(slice(None), *crop)], full[(slice(None), *crop)])
    np.testing.assert_array_equal(seg[(slice(None), *crop)], labels[(slice(None), *crop)])
    outside = np.ones(full.shape[1:], bool)
    outside[crop] = False
    assert (data[:, outside] == 0).all()
    assert (seg[:, outside] == -1).all()


def test_full_frame_dataset_class_wraps_load_case():
    full, labels, crop, properties = _cropped_case()

    class CroppedDataset:
        def load_case(self, identifier):
            return full[(slice(None), *crop)], labels[(slice(None), *crop)], None, properties

    wrapped = full_frame_dataset_class(CroppedDataset)
    assert issubclass(wrapped, CroppedDataset)
    assert full_frame_dataset_class(CroppedDataset) is wrapped  # one class per base: pickles and compares
    data, seg, _, returned = wrapped().load_case("case")
    assert data.shape == full.shape and returned is properties
