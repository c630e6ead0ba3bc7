"""The S3 remote cache on a fresh CI machine: first ``cdk synth`` of the 20-function app.

Usage: ``.venv/bin/python benchmarks/remote_cache.py [--runs 3]`` (needs ``make setup``, PyPI,
and moto, which the dev extra installs; talks only to a moto server on localhost).

In one run, each synth of ``bench_synth.py``'s app (20 PythonWheelFunctions over 3 dependency
sets) starts as a fresh CI runner does: empty lambda-wheels cache, empty uv cache, new cdk.out.

* **cold local**: no remote cache: every set is downloaded, installed, audited and compiled;
* **publish**: the same with ``LAMBDA_WHEELS_REMOTE_CACHE`` set and the bucket empty (the first
  runner of a new dependency set pays this);
* **warm remote**: the bucket filled by a publish run: every entry is fetched and verified.

Printed: the median seconds of each, installs counted from ``LAMBDA_WHEELS_EVENTS``, the bytes
stored in the bucket, and warm remote / cold local.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from bench_synth import write_app  # noqa: E402
from bench_util import (  # noqa: E402
    ROOT,
    clean_environ,
    count_events,
    fmt_ratio,
    fmt_seconds,
    load_average,
    median,
    ratio,
    read_events,
    remove,
    render_table,
    run_timed,
)

from tests.support.moto_server import MotoServer  # noqa: E402

BUCKET = "lw-bench-remote-cache"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/remote_cache.py", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    import boto3

    cdk = ROOT / "node_modules" / ".bin" / "cdk"
    work = Path(tempfile.mkdtemp(prefix="lw-bench-remote-")).resolve()
    before = load_average()
    results: dict[str, list[float]] = {"cold local": [], "publish": [], "warm remote": []}
    installs: dict[str, list[int]] = {k: [] for k in results}
    stored = 0
    try:
        app = work / "app"
        write_app(app)
        with MotoServer(work / "moto.log") as moto:
            aws = {
                "AWS_ENDPOINT_URL_S3": moto.endpoint,
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench-secret",
                "AWS_REGION": "us-east-1",
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            }
            s3 = boto3.client(
                "s3",
                endpoint_url=moto.endpoint,
                region_name="us-east-1",
                aws_access_key_id="bench",
                aws_secret_access_key="bench-secret",
            )

            def empty_bucket() -> None:
                for obj in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
                    s3.delete_object(Bucket=BUCKET, Key=obj["Key"])

            s3.create_bucket(Bucket=BUCKET)

            def synth(phase: str, remote: bool) -> None:
                machine = work / "machine"
                remove(machine)
                env = clean_environ(
                    {
                        **{k: v for k, v in aws.items()},
                        "LAMBDA_WHEELS_CACHE_DIR": str(machine / "lw-cache"),
                        "UV_CACHE_DIR": str(machine / "uv-cache"),
                        "LAMBDA_WHEELS_EVENTS": str(machine / "events.jsonl"),
                    }
                )
                if remote:
                    env["LAMBDA_WHEELS_REMOTE_CACHE"] = f"s3://{BUCKET}/bench"
                command = f"{shlex.quote(sys.executable)} app.py"
                argv = [str(cdk), "synth", "--quiet", "--no-notices", "-o", str(machine / "out")]
                seconds = run_timed(
                    [*argv, "--app", command], env=env, cwd=app, log=work / f"{phase}.log",
                    what=f"{phase} synth",
                )  # fmt: skip
                results[phase].append(seconds)
                events = read_events(machine / "events.jsonl")
                installs[phase].append(count_events(events, "install-start"))
                print(f"[remote-cache] {phase}: {seconds:.1f} s", file=sys.stderr, flush=True)

            synth("cold local", remote=False)  # unmeasured: warms node, jsii, the page cache
            results["cold local"].clear()
            installs["cold local"].clear()
            for _ in range(args.runs):
                synth("cold local", remote=False)
                empty_bucket()
                synth("publish", remote=True)
                stored = sum(
                    o["Size"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
                )
                synth("warm remote", remote=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = [
        [phase, fmt_seconds(median(times)), "/".join(map(str, installs[phase]))]
        for phase, times in results.items()
    ]
    print(f"load average before/after: {before} / {load_average()}; bucket: {stored / 1e6:.1f} MB")
    print(render_table(["first synth on a fresh machine", "median s", "installs"], rows))
    warm = ratio(median(results["warm remote"]), median(results["cold local"]))
    print(f"warm remote / cold local: {fmt_ratio(warm)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
