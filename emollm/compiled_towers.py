"""`--compile-towers`: the vision towers (CLIP on the frames, the ViT on the faces) compiled by
Inductor with freezing (weights folded in, so oneDNN gets its GEMMs prepacked and the elementwise
ops around them fused), most of a first turn's compute on a CPU (benchmarks/cpu_latency.py).

* The serving engine encodes one clip at a time and the processor gives every visual input
  `num_frames` frames (a still is repeated), so each tower sees one shape, compiled at start-up.
* `nn.Module.compile` compiles in place: parameter names, and so the feature cache's fingerprint
  and saved weights, stay the eager model's.
* The audio tower stays eager: its input length follows each clip's.
"""

from __future__ import annotations

VISION_TOWERS = ("frames", "face")


def compile_vision_towers(model, processor) -> list[str]:
    """Compile the model's vision towers in place and run one video-shaped batch through them, as
    the engine calls them (`encode_towers` casts the pixels to each tower's dtype and turns grad
    off for frozen towers); returns the towers compiled."""
    import torch

    compiled = [name for name in VISION_TOWERS if name in model.towers]
    for name in compiled:
        model.towers[name].compile(dynamic=False, options={"freezing": True})
    frames, side = processor.num_frames, int(processor.image_processor.crop_size["height"])
    shapes = {"frames": ("frames_pixel_values", side), "face": ("face_pixel_values", processor.face_size)}
    for name in compiled:
        argument, size = shapes[name]
        model.encode_towers(**{argument: torch.zeros(1, frames, 3, size, size)})
    return compiled
