"""Trains DLRM (facebookresearch/dlrm's Criteo Kaggle configuration) with PyTorch on a Criteo TSV
file and prints training examples per second on its last line.

Same model as halfstep-recsys: bottom MLP 13-512-256-64-16 (ReLU after every layer), 26
EmbeddingBags of dim 16 (sum, sparse gradients) hashed to --max-ind-range rows, dot interaction
without self terms (367 features), top MLP 367-512-256-1 (ReLU but the last), sigmoid + BCE,
SGD lr 0.1, batch 128. The file is parsed before timing; the timed part is forward, backward and
the optimizer step of every batch, as in the halfstep trainer's examples/s.

usage: python3 torch_dlrm.py FILE [--max-ind-range 100000] [--batch-size 128] [--threads 2]
                                  [--examples N] [--warmup 5]
"""
import argparse
import gzip
import math
import sys
import time

import numpy as np
import torch
from torch import nn


def read_criteo(path, max_ind_range, limit):
    opener = gzip.open if path.endswith(".gz") else open
    labels, dense, sparse = [], [], []
    with opener(path, "rt") as f:
        for line in f:
            if limit and len(labels) >= limit:
                break
            fields = line.rstrip("\n").split("\t")
            labels.append(float(fields[0]))
            dense.append([math.log(max(int(x), 0) + 1) if x else 0.0 for x in fields[1:14]])
            sparse.append([int(x, 16) % max_ind_range if x else 0 for x in fields[14:40]])
    return (
        torch.tensor(labels, dtype=torch.float32),
        torch.tensor(dense, dtype=torch.float32),
        torch.tensor(np.array(sparse, dtype=np.int64)),
    )


def mlp(sizes, sigmoid_last):
    layers = []
    for i in range(len(sizes) - 1):
        linear = nn.Linear(sizes[i], sizes[i + 1], bias=True)
        n, m = sizes[i + 1], sizes[i]
        linear.weight.data.normal_(0.0, math.sqrt(2 / (m + n)))
        linear.bias.data.normal_(0.0, math.sqrt(1 / n))
        layers.append(linear)
        last = i == len(sizes) - 2
        layers.append(nn.Sigmoid() if (last and sigmoid_last) else nn.ReLU())
    return nn.Sequential(*layers)


class Dlrm(nn.Module):
    def __init__(self, rows, dim=16):
        super().__init__()
        self.bottom = mlp([13, 512, 256, 64, dim], sigmoid_last=False)
        self.embeddings = nn.ModuleList()
        for n in rows:
            bag = nn.EmbeddingBag(n, dim, mode="sum", sparse=True)
            bound = math.sqrt(1 / n)
            bag.weight.data.uniform_(-bound, bound)
            self.embeddings.append(bag)
        count = len(rows) + 1
        self.li = torch.tensor([i for i in range(count) for j in range(i)])
        self.lj = torch.tensor([j for i in range(count) for j in range(i)])
        self.top = mlp([dim + count * (count - 1) // 2, 512, 256, 1], sigmoid_last=True)

    def forward(self, dense, sparse, offsets):
        x = self.bottom(dense)
        ly = [bag(sparse[:, t].contiguous(), offsets) for t, bag in enumerate(self.embeddings)]
        t = torch.cat([x] + ly, dim=1).view(x.shape[0], -1, x.shape[1])
        z = torch.bmm(t, torch.transpose(t, 1, 2))
        r = torch.cat([x, z[:, self.li, self.lj]], dim=1)
        return self.top(r)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--max-ind-range", type=int, default=100000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--examples", type=int, default=0)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    labels, dense, sparse = read_criteo(args.file, args.max_ind_range, args.examples)
    model = Dlrm([args.max_ind_range] * 26)
    loss_fn = nn.BCELoss(reduction="mean")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    b = args.batch_size
    offsets = torch.arange(b)
    batches = [(i, min(i + b, len(labels))) for i in range(0, len(labels), b)]

    def step(start, end):
        n = end - start
        p = model(dense[start:end], sparse[start:end], offsets[:n])
        loss = loss_fn(p.view(-1), labels[start:end])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for start, end in batches[: args.warmup]:
        step(start, end)
    timed = batches[args.warmup:]
    began = time.perf_counter()
    for start, end in timed:
        step(start, end)
    elapsed = time.perf_counter() - began
    examples = sum(end - start for start, end in timed)
    print(f"torch {torch.__version__}, {args.threads} threads, {len(timed)} batches", file=sys.stderr)
    print(examples / elapsed)


if __name__ == "__main__":
    main()
