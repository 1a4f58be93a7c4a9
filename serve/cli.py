"""`emollm serve` (the OpenAI-style API, with the chat UI on /ui) and `emollm chat` (the chat alone).
Options follow vLLM's `vllm serve` where they overlap."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from data_pipeline.errors import UserFacingError
from emollm.dtypes import (
    add_cpu_optimizations_argument,
    add_dtype_argument,
    cpu_optimizations_on,
    resolve_dtype,
)
from emollm.fast_generate import add_compile_argument
from emollm.quantization import add_quantization_argument

logger = logging.getLogger(__name__)

DEFAULT_EXAMPLES_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "emollm" / "chat_examples"


def register(subparsers) -> None:
    serve = subparsers.add_parser("serve", help="serve the OpenAI-style API (and the chat UI on /ui)",
                                  description="OpenAI-style, vLLM-compatible HTTP API; the Gradio chat on /ui.")
    _common(serve, port=8000)
    api = serve.add_argument_group("API")
    api.add_argument("--served-model-name", nargs="+", help="model name(s) clients use (default: the dir's name)")
    api.add_argument("--allowed-local-media-path", help="file:// media URLs are allowed under this folder only")
    api.add_argument("--allow-remote-media", action="store_true", help="fetch http(s) media URLs (off by default)")
    api.add_argument("--allowed-media-domains", nargs="+", help="remote media only from these host names "
                     "(exact match, checked again at every redirect)")
    api.add_argument("--allow-private-media-hosts", action="store_true",
                     help="let remote media come from private, loopback and link-local addresses (off: SSRF)")
    api.add_argument("--remote-media-timeout", type=float, default=10.0, help="seconds per remote fetch")
    api.add_argument("--no-ui", action="store_true", help="do not mount the chat UI on /ui")
    serve.set_defaults(func=run_serve)

    chat = subparsers.add_parser("chat", help="the Gradio video chat on its own",
                                 description="Gradio video chat (webcam, microphone, uploads) over the engine.")
    _common(chat, port=7860)
    chat.set_defaults(func=run_chat)


def _common(parser: argparse.ArgumentParser, port: int) -> None:
    parser.add_argument("--model", required=True, help="model directory (from_pretrained)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--api-key", default=os.environ.get("EMOLLM_API_KEY"),
                        help="bearer key for /v1, /tokenize, /detokenize and the chat (env EMOLLM_API_KEY)")
    limits = parser.add_argument_group("limits")
    limits.add_argument("--max-model-len", type=int, help="prompt + completion tokens (default: the model's)")
    limits.add_argument("--max-tokens", type=int, help="most tokens one request may generate")
    limits.add_argument("--max-batch-size", type=int, default=8, help="rows per batched generate")
    limits.add_argument("--max-concurrent-requests", type=int, default=64, help="queued + running; more get 429")
    limits.add_argument("--max-frames", type=int, help="sample at most this many frames per video")
    limits.add_argument("--max-media-bytes", type=int, default=64 * 2**20, help="per media item")
    limits.add_argument("--max-media-seconds", type=float, default=600.0, help="per media item")
    limits.add_argument("--limit-mm-per-prompt", help="e.g. video=1,image=1,audio=1 or JSON; 0 refuses a kind")
    limits.add_argument("--feature-cache-mb", type=int, default=512, help="in-memory cache of encoded clips")
    limits.add_argument("--no-feature-cache", action="store_true", help="decode and encode every clip every time")
    limits.add_argument("--threads", type=int, help="torch CPU threads (default: all cores)")
    add_dtype_argument(parser)
    add_quantization_argument(parser)
    add_compile_argument(parser)
    parser.add_argument("--compile-towers", action="store_true",
                        help="compile the vision towers (CLIP, face ViT) with Inductor at start-up (about 40 s for nano-2b "
                             "on 2 cores); they then skip the default CPU path, which measured faster on 2 cores "
                             "(benchmarks/cpu_latency.py)")
    add_cpu_optimizations_argument(parser)
    parser.add_argument("--examples-dir", default=str(DEFAULT_EXAMPLES_DIR),
                        help="where the chat's example clips (synthetic set) are generated on first use")


def _engine(args):
    optimized = cpu_optimizations_on(args)  # before torch is imported
    from serve.engine import Engine, EngineLimits

    model_dir = Path(args.model)
    if not (model_dir / "config.json").is_file():
        raise UserFacingError(f"--model {args.model}: not a model directory (no config.json)")
    limits = EngineLimits(
        max_model_len=args.max_model_len, max_tokens=args.max_tokens, max_batch_size=args.max_batch_size,
        max_concurrent_requests=args.max_concurrent_requests, max_frames=args.max_frames,
        feature_cache_bytes=0 if args.no_feature_cache else args.feature_cache_mb * 2**20, threads=args.threads)
    names = getattr(args, "served_model_name", None) or [model_dir.resolve().name]
    return Engine.from_pretrained(model_dir, limits, names[0], dtype=resolve_dtype(args.dtype),
                                  quantization=args.quantization, compile_decode=args.compile_decode,
                                  compile_towers=args.compile_towers, cpu_optimizations=optimized), names


def _policy(args):
    from serve.media_fetch import MediaPolicy, parse_limit_mm

    try:
        limit_mm = parse_limit_mm(args.limit_mm_per_prompt)
    except ValueError as error:
        raise UserFacingError(str(error)) from None
    local = getattr(args, "allowed_local_media_path", None)
    if local and not Path(local).is_dir():
        raise UserFacingError(f"--allowed-local-media-path {local}: not a folder")
    remote = getattr(args, "allow_remote_media", False)
    domains = getattr(args, "allowed_media_domains", None)
    if domains and not remote:
        raise UserFacingError("--allowed-media-domains needs --allow-remote-media (remote media are off)")
    return MediaPolicy(allowed_local_media_path=local, allow_remote_media=remote,
                       allowed_media_domains=tuple(domains) if domains else None,
                       allow_private_media_hosts=getattr(args, "allow_private_media_hosts", False),
                       remote_timeout=getattr(args, "remote_media_timeout", 10.0), max_media_bytes=args.max_media_bytes,
                       max_media_seconds=args.max_media_seconds, limit_mm_per_prompt=limit_mm)


def _chat_ui(engine, args, policy):
    from serve.ui import ChatUI, synthetic_examples

    try:
        examples = synthetic_examples(args.examples_dir)
    except Exception as error:  # examples are a convenience: the chat works without them
        logger.warning("no chat examples (%s)", error)
        examples = []
    return ChatUI(engine, api_key=args.api_key, policy=policy, examples=examples, examples_dir=args.examples_dir)


def run_serve(args) -> int:
    from serve.api import APISettings, create_app
    from serve.server import serve_forever
    from serve.ui import mount_ui

    policy = _policy(args)
    engine, names = _engine(args)
    settings = APISettings(served_model_names=names, api_key=args.api_key, model_root=str(Path(args.model).resolve()),
                           media=policy)
    app = create_app(engine, settings)
    if not args.no_ui:
        mount_ui(app, _chat_ui(engine, args, policy), allowed_paths=[args.examples_dir])
    logger.info("serving %s on http://%s:%d/v1 (chat UI: %s)", names[0], args.host, args.port,
                "off" if args.no_ui else f"http://{args.host}:{args.port}/ui")
    try:
        serve_forever(app, args.host, args.port)
    finally:
        engine.close()
    return 0


def run_chat(args) -> int:
    policy = _policy(args)
    engine, _ = _engine(args)
    ui = _chat_ui(engine, args, policy)
    demo = ui.build()
    try:
        demo.queue(default_concurrency_limit=None).launch(server_name=args.host, server_port=args.port,
                                                          allowed_paths=[args.examples_dir], footer_links=["api"],
                                                          auth=ui.auth)
    finally:
        engine.close()
    return 0
