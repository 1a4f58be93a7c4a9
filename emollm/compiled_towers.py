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
    """Compile the model's vision towers in place and run one video-shaped batch through them;
    returns the towers compiled."""
    import torch

    compiled = [name for name in VISION_TOWERS if name in model.towers]
    for name in compiled:
        model.towers[name].compile(dynamic=False, options={"freezing": True})
    frames, side, face = processor.num_frames, _crop_side(processor), processor.face_size
    dtype = next(model.towers[compiled[0]].parameters()).dtype if compiled else torch.float32
    inputs = {"frames": {"frames_pixel_values": torch.zeros(1, frames, 3, side, side, dtype=dtype)},
              "face": {"face_pixel_values": torch.zeros(1, frames, 3, face, face, dtype=dtype)}}
    for name in compiled:  # as the engine calls them (grad off inside encode_towers: frozen towers)
        model.encode_towers(**inputs[name])
    return compiled


def _crop_side(processor) -> int:
    crop = processor.image_processor.crop_size  # a dict or transformers' SizeDict, both indexable
    return int(crop["height"])
