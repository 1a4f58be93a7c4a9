"""Schema-driven fuzzing (schemathesis) of a real server on 127.0.0.1: every operation of
`/openapi.json`, with schema-valid and schema-violating requests from a fixed seed, must get no
5xx and responses that match the published schema."""

from __future__ import annotations

import pytest
import schemathesis  # a dev dependency, pinned in constraints.txt with hypothesis
from hypothesis import HealthCheck, given, seed, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

SEED = 20261202
CASES_PER_MODE = 80  # per operation and generation mode (schema-valid, schema-violating)
MIN_CASES = 1000


@pytest.fixture(scope="module")
def fuzz_server(tiny_model):
    from serve.api import APISettings, create_app
    from serve.engine import Engine, EngineLimits
    from serve.media_fetch import MediaPolicy
    from serve.server import start_in_thread

    model, processor = tiny_model
    engine = Engine(model, processor, EngineLimits(max_tokens=4, max_batch_size=4, max_concurrent_requests=256),
                    "tiny")
    app = create_app(engine, APISettings(served_model_names=["tiny"], media=MediaPolicy(max_media_bytes=256 * 1024)))
    running = start_in_thread(app)
    yield running.url
    running.stop()
    engine.close()


def fuzz(operation, mode, base_url: str) -> tuple[int, int]:
    """Run one operation's cases in one generation mode: (cases sent, 2xx answers). Raises the
    first failing check, with the request that caused it (shrunk by hypothesis)."""
    sent = [0, 0]
    checks = [not_a_server_error, response_schema_conformance]

    @seed(SEED)
    @settings(max_examples=CASES_PER_MODE, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        sent[0] += 1
        response = case.call_and_validate(base_url=base_url, checks=checks, timeout=60)
        sent[1] += response.status_code < 300

    run()
    return sent[0], sent[1]


@pytest.mark.slow
def test_fuzzing_finds_no_server_error(fuzz_server):
    schema = schemathesis.openapi.from_url(f"{fuzz_server}/openapi.json")
    counts, failures = {}, {}
    for result in schema.get_all_operations():
        operation = result.ok()
        inputs = [operation.body, operation.query, operation.headers, operation.path_parameters]
        modes = [schemathesis.GenerationMode.POSITIVE]
        if any(len(group) for group in inputs):  # an operation without inputs has no invalid request
            modes.append(schemathesis.GenerationMode.NEGATIVE)
        for mode in modes:
            name = f"{operation.label} [{mode.value}]"
            try:
                counts[name] = fuzz(operation, mode, fuzz_server)
            except Exception as error:  # noqa: BLE001 - collected so one run reports every failing operation
                failures[name] = f"{type(error).__name__}: {error}"
    total = sum(sent for sent, _ in counts.values())
    print(f"schemathesis: {total} cases over {len(counts)} operation/mode pairs, {len(failures)} failures")
    for name, (sent, accepted) in sorted(counts.items()):
        print(f"  {sent:4d} cases  {accepted:4d} 2xx  {name}")
    assert not failures, "\n\n".join(f"{name}: {text}" for name, text in failures.items())
    assert len({name.rsplit(" [", 1)[0] for name in counts}) >= 10  # every route was fuzzed
    assert total >= MIN_CASES, counts
