#!/usr/bin/env python3
"""make_oci_cache.py DIR N TAG [SIZE] - write an OCI layout shaped like
BuildKit's `--cache-to type=local,mode=max` export into DIR: N layer blobs
(the last one's content depends on TAG, the others do not), a cache config
blob, an image index listing them, and index.json naming that index. So two
layouts made with different TAGs share N-1 layers and differ in 3 blobs.
With SIZE, each layer is SIZE pseudo-random bytes (seeded by its number, and
the last one by TAG too), as compressed layers are; else a short text.
"""
import hashlib
import json
import os
import random
import sys

def main():
    d, n, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    size = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    os.makedirs(os.path.join(d, "blobs", "sha256"), exist_ok=True)
    os.makedirs(os.path.join(d, "ingest"), exist_ok=True)

    def put(data, media_type):
        h = hashlib.sha256(data).hexdigest()
        with open(os.path.join(d, "blobs", "sha256", h), "wb") as f:
            f.write(data)
        return {"mediaType": media_type, "digest": "sha256:" + h, "size": len(data)}

    layers = []
    for i in range(n):
        seed = "layer %d %s" % (i, tag if i == n - 1 else "")
        if size:
            body = random.Random(seed).randbytes(size)
        else:
            body = (seed + "\n").encode() * 4096
        layers.append(put(body, "application/vnd.oci.image.layer.v1.tar+gzip"))
    cfg = put(json.dumps({"layers": [l["digest"] for l in layers], "tag": tag}).encode(),
              "application/vnd.buildkit.cacheconfig.v0")
    lst = put(json.dumps({"schemaVersion": 2,
                          "mediaType": "application/vnd.oci.image.index.v1+json",
                          "manifests": layers + [cfg]}).encode(),
              "application/vnd.oci.image.index.v1+json")
    lst["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
    with open(os.path.join(d, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2,
                   "mediaType": "application/vnd.oci.image.index.v1+json",
                   "manifests": [lst]}, f)

main()
