"""Independent safetensors reader and writer used by checkpoint.python.test.ts.

Written from the format spec only (struct + json + numpy), sharing no code with the TypeScript
implementation, so that a round trip through it is a check from elsewhere.

  python3 read_safetensors.py read FILE    print {"header_length", "metadata", "tensors"} as JSON
  python3 read_safetensors.py write FILE   write a fixed fixture with this module's own writer
  python3 read_safetensors.py checksums FILE      print {tensor: SHA-256 hex of its bytes} (hashlib)
  python3 read_safetensors.py strip FILE OUT      rewrite FILE with this module's writer, keeping
                                                  tensors and metadata but no halfstep.checksum.*
"""
import hashlib
import json
import struct
import sys

import numpy as np

NUMPY = {
    "BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "F8_E4M3": np.uint8, "F8_E5M2": np.uint8,
    "I16": np.int16, "U16": np.uint16, "F16": np.float16, "BF16": np.uint16,
    "I32": np.int32, "U32": np.uint32, "F32": np.float32, "F64": np.float64,
    "I64": np.int64, "U64": np.uint64,
}


def jsonable(name, dtype, arr):
    flat = arr.reshape(-1)
    if dtype == "BF16":  # bfloat16 is the top half of a float32
        flat = (flat.astype(np.uint32) << 16).view(np.float32)
    if flat.dtype.kind == "f":
        return [v if np.isfinite(v) else repr(v) for v in flat.astype(np.float64).tolist()]
    if dtype in ("I64", "U64"):
        return [str(v) for v in flat.tolist()]  # beyond 2^53: keep exact
    return [int(v) for v in flat.tolist()]


def read(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    data = raw[8 + n :]
    metadata = header.pop("__metadata__", {}) or {}
    out, expected_begin = {}, 0
    for name, info in sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"])):
        begin, end = info["data_offsets"]
        assert begin == expected_begin, f"{name}: offset {begin}, expected {expected_begin}"
        expected_begin = end
        dt = np.dtype(NUMPY[info["dtype"]]).newbyteorder("<")
        arr = np.frombuffer(data[begin:end], dtype=dt).reshape(info["shape"])
        out[name] = {"dtype": info["dtype"], "shape": list(arr.shape),
                     "values": jsonable(name, info["dtype"], arr)}
    assert expected_begin == len(data), f"data section {len(data)} bytes, tensors {expected_begin}"
    return {"header_length": n, "metadata": metadata, "tensors": out}


def write(path):
    f32 = np.array([[1.5, -2.25, 3.0], [0.0, -0.0, 1e-3]], dtype=np.float32)
    tensors = {
        "emb.f16": ("F16", np.array([1.0, -2.5, 65504.0, 2.0 ** -24], dtype=np.float16)),
        "emb.bf16": ("BF16", (np.array([1.0, -2.5, 3.0], dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)),
        "emb.f32": ("F32", f32),
        "ids": ("I64", np.array([-1, 2 ** 62 + 1], dtype=np.int64)),
        "flags": ("U8", np.array([7], dtype=np.uint8)),
        "count": ("I32", np.array(42, dtype=np.int32)),
        "empty": ("F32", np.zeros((0, 4), dtype=np.float32)),
    }
    header, blobs, offset = {"__metadata__": {"format": "pt", "step": "12"}}, [], 0
    for name in sorted(tensors):  # name order, no alignment, no padding: data is misaligned
        dtype, arr = tensors[name]
        blob = arr.astype(arr.dtype.newbyteorder("<")).tobytes(order="C")
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode("utf-8")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def split(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {}) or {}
    return header, metadata, raw[8 + n :]


def checksums(path):
    header, _, data = split(path)
    return {name: hashlib.sha256(data[slice(*t["data_offsets"])]).hexdigest() for name, t in header.items()}


def strip(path, out_path):
    header, metadata, data = split(path)
    metadata = {k: v for k, v in metadata.items() if not k.startswith("halfstep.checksum.")}
    out, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(header):  # name order, json.dumps spacing, no padding, as above
        info = header[name]
        blob = data[slice(*info["data_offsets"])]
        out[name] = {"dtype": info["dtype"], "shape": info["shape"], "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(out).encode("utf-8")
    with open(out_path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


if __name__ == "__main__":
    command, target = sys.argv[1], sys.argv[2]
    if command == "read":
        print(json.dumps(read(target)))
    elif command == "checksums":
        print(json.dumps(checksums(target)))
    elif command == "strip":
        strip(target, sys.argv[3])
    else:
        write(target)
