"""The AWS X-Ray SDK for Python's centralized sampler, as a reference client.

    python sdk_sampler.py PORT SECONDS PATH...

Polls the sampling API at 127.0.0.1:PORT as the SDK does (rules at start,
statistics every 10 s) while deciding requests for PATH... every 10 ms
(after one second, for the rules to arrive), then prints how many it
sampled per path as JSON.
"""

import json
import sys
import time

from aws_xray_sdk.core.context import Context
from aws_xray_sdk.core.daemon_config import DaemonConfig
from aws_xray_sdk.core.sampling.sampler import DefaultSampler


def main():
    port, seconds, paths = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    sampler = DefaultSampler()
    sampler.load_settings(DaemonConfig("127.0.0.1:%s" % port), Context())
    sampler.start()
    sampled = {path: 0 for path in paths}
    until = time.time() + seconds
    time.sleep(1.0)
    while time.time() < until:
        for path in paths:
            request = {"service": "python-client", "method": "GET", "path": path}
            if sampler.should_trace(request):
                sampled[path] += 1
        time.sleep(0.01)
    print(json.dumps(sampled))


if __name__ == "__main__":
    main()
