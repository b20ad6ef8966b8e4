"""The in-memory uint8 augmentation path (cnnlab.data.memory): the same normalised tensors as the loader
when nothing is augmented, crops that are shifts with a zero border, flips that are mirrors, and draws
rebuilt from (seed, epoch)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cnnlab.data import BatchTransform, ImageTensors, TensorLoader, make_loaders
from cnnlab.data.memory import Augment, augmented_batches, epoch_generator, random_crop, random_flip, scale_at


def _fashion_like_loader(n: int = 37, batch_size: int = 8) -> TensorLoader:
    """28x28 grey uint8 images padded to 32x32, as compare feeds Fashion-MNIST."""
    gen = torch.Generator().manual_seed(3)
    data = ImageTensors(torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=gen),
                        torch.arange(n) % 10, 10, "fake", "train", (0.2860,), (0.3530,))  # fmt: skip
    transform = BatchTransform((0.2860,), (0.3530,), (28, 28), (32, 32), 1, 3, resize="pad")
    return TensorLoader(data, batch_size, transform, shuffle=True, seed=5)


def test_without_augmentation_the_uint8_path_equals_the_loader_pad_case():
    loader = _fashion_like_loader()
    loader.set_epoch(4)
    mine = list(augmented_batches(loader, Augment()))
    theirs = list(loader)
    assert len(mine) == len(theirs) == 5
    for (x, y), (x_ref, y_ref) in zip(mine, theirs, strict=True):
        assert x.shape == (8, 3, 32, 32) or x.shape[0] == 5
        torch.testing.assert_close(x, x_ref, rtol=0, atol=0)
        assert torch.equal(y, y_ref)


def test_without_augmentation_the_uint8_path_equals_the_loader_interpolate_case():
    bundle = make_loaders("digits", 32, image_size=16, in_chans=3, limit_train=100)  # 8x8 -> 16x16: interpolated
    assert bundle.train.transform.resize == "interpolate"
    bundle.train.set_epoch(2)
    for (x, y), (x_ref, y_ref) in zip(augmented_batches(bundle.train, Augment()), bundle.train, strict=True):
        torch.testing.assert_close(x, x_ref, rtol=0, atol=0)
        assert torch.equal(y, y_ref)


def test_random_crop_is_a_shift_with_a_zero_border():
    images = torch.randint(1, 256, (16, 2, 6, 7), dtype=torch.uint8)  # no zero pixel inside
    out = random_crop(images, 2, torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.dtype == torch.uint8
    padded = F.pad(images, (2, 2, 2, 2))
    shifts = set()
    for i in range(16):
        found = [(dy, dx) for dy in range(5) for dx in range(5)
                 if torch.equal(out[i], padded[i, :, dy:dy + 6, dx:dx + 7])]  # fmt: skip
        assert len(found) == 1
        shifts.add(found[0])
    assert len(shifts) > 3  # images move independently


def test_random_flip_mirrors_about_half():
    images = torch.randint(0, 256, (400, 1, 3, 5), dtype=torch.uint8)
    out = random_flip(images, torch.Generator().manual_seed(1))
    flipped = [torch.equal(o, i.flip(-1)) and not torch.equal(o, i) for o, i in zip(out, images, strict=True)]
    kept = [torch.equal(o, i) for o, i in zip(out, images, strict=True)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert 150 < sum(flipped) < 250


def test_draws_are_rebuilt_from_seed_and_epoch():
    loader = _fashion_like_loader()
    augment = Augment(crop_padding=4, hflip=True)
    loader.set_epoch(3)
    first = [x for x, _ in augmented_batches(loader, augment)]
    again = [x for x, _ in augmented_batches(loader, augment)]
    loader.set_epoch(4)
    other = [x for x, _ in augmented_batches(loader, augment)]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))
    state = torch.random.get_rng_state()
    list(augmented_batches(loader, augment))
    assert torch.equal(state, torch.random.get_rng_state())
    assert epoch_generator(1, 2).initial_seed() != epoch_generator(1, 3).initial_seed()


def test_progressive_resizing_schedule_and_side():
    schedule = ((1, 0.5), (3, 0.75), (5, 1.0))
    assert [scale_at(schedule, e) for e in range(1, 8)] == [0.5, 0.5, 0.75, 0.75, 1.0, 1.0, 1.0]
    assert scale_at(((3, 0.75),), 2) is None  # the loader's own size before the first entry
    loader = _fashion_like_loader()
    x, _ = next(augmented_batches(loader, Augment(scale=0.5)))
    assert x.shape == (8, 3, 16, 16)
    # resizing an unaugmented batch is the antialiased bilinear resize of the loader's 0..1 pixels
    raw = next(loader.raw_batches())[0]
    small = F.interpolate(loader.transform.place(raw).float() / 255, size=(16, 16), mode="bilinear",
                          align_corners=False, antialias=True)  # fmt: skip
    torch.testing.assert_close(x, loader.transform.normalise(small))
