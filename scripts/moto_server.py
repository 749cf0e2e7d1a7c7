"""moto's server with its Kinesis shards made safe for concurrent requests.

moto serves every request on a thread of its own, but a Kinesis shard numbers a new record by reading
the highest sequence number and adding one, unlocked ("this function is not safe for concurrency", it
says). Two PutRecords racing on one shard then get the same sequence number, and the second record
overwrites the first: a record acknowledged and lost, which the end-to-end tests rightly report. The
same unlocked dict is iterated by GetRecords while puts insert into it. Real Kinesis does neither, so
this launcher puts one lock around each shard's reads and writes and then runs `moto_server` as is.

usage: python moto_server.py -H 127.0.0.1 -p 5000   (the arguments of `moto_server`)
"""

import functools
import sys
import threading

from moto.kinesis.models import Shard
from moto.server import main

SHARD_LOCK = threading.Lock()


def serialised(method):
    """`method` of a shard, run while holding the one shard lock."""

    @functools.wraps(method)
    def locked(*args, **kwargs):
        with SHARD_LOCK:
            return method(*args, **kwargs)

    return locked


for name in ("put_record", "get_records", "get_sequence_number_at", "to_json"):
    setattr(Shard, name, serialised(getattr(Shard, name)))

if __name__ == "__main__":
    sys.exit(main())
