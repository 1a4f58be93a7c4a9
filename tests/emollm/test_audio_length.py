"""The audio tower on the clip's own length (`media.audio_length: clip`) versus Whisper's padded
30 s window, and the same setting carried from the preset to the processor and the saved dirs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import WhisperConfig
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from emollm.configuration_emollm import TowerSpec
from emollm.towers import audio_features, whisper_hidden_states


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    config = WhisperConfig(d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64,
                           decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=64, num_mel_bins=80,
                           max_source_positions=1500, vocab_size=64, pad_token_id=1, bos_token_id=1,
                           eos_token_id=2, decoder_start_token_id=1)
    return WhisperEncoder(config).eval()


def test_unpadded_forward_equals_transformers_on_a_full_window(encoder):
    features = torch.randn(2, 80, 3000)
    with torch.no_grad():
        ours = whisper_hidden_states(encoder, features)
        theirs = encoder(features, output_hidden_states=True).hidden_states
    assert len(ours) == len(theirs) == encoder.config.encoder_layers + 1
    for mine, reference in zip(ours, theirs, strict=True):
        torch.testing.assert_close(mine, reference, rtol=1e-5, atol=1e-5)


def test_clip_length_runs_only_the_valid_frames(encoder):
    spec = TowerSpec(feature_layers=[1, 2])
    valid = torch.tensor([250, 100])  # 5 s and 2 s of audio, in encoder frames
    padded = torch.randn(2, 80, 3000)
    with torch.no_grad():
        clip = audio_features(encoder, padded[:, :, :500], valid, [1, 1], spec, 8, audio_length="clip")
        alone = audio_features(encoder, padded[1:, :, :200], valid[1:], [1], spec, 8, audio_length="clip")
        window = audio_features(encoder, padded, valid, [1, 1], spec, 8, audio_length="window")
    assert clip.shape == window.shape == (2, 2, 8, 32)
    # the second clip's features do not depend on the longer clip it was batched with
    torch.testing.assert_close(clip[1:], alone)
    # and they are not the padded window's (attention no longer sees 25 s of padding)
    assert not torch.allclose(clip, window, atol=1e-3)


def test_a_window_model_refuses_unpadded_features_by_name(encoder):
    with pytest.raises(ValueError, match="audio_length"):
        audio_features(encoder, torch.randn(1, 80, 500), torch.tensor([250]), [1], TowerSpec(), 8,
                       audio_length="window")


def test_the_preset_setting_reaches_the_processor_and_the_saved_directory(tiny_model_dir):
    from emollm import EmoLLMConfig, EmoLLMProcessor

    config = EmoLLMConfig.from_pretrained(tiny_model_dir)
    processor = EmoLLMProcessor.from_pretrained(tiny_model_dir)
    assert config.specs.media.audio_length == "clip"
    assert processor.audio_length == "clip"
    three_seconds = np.zeros(48000, dtype=np.float32)
    tensors = processor._audio([three_seconds])
    assert tensors["audio_input_features"].shape[-1] == 300  # mel frames of 3 s, not 30 s


def test_old_directories_keep_the_padded_window():
    from emollm.configuration_emollm import MediaSpec

    assert MediaSpec().audio_length == "window"


def test_a_clip_features_do_not_depend_on_its_batch(tiny_model):
    model, processor = tiny_model
    rng = np.random.default_rng(0)
    long, short = rng.normal(0, 0.1, 48000).astype(np.float32), rng.normal(0, 0.1, 32123).astype(np.float32)
    together = processor._audio([long, short])
    alone = processor._audio([short])
    with torch.no_grad():
        both = model.encode_towers(**together)["audio"]
        single = model.encode_towers(**alone)["audio"]
    torch.testing.assert_close(both[1:], single)
