# PyTorch peer of the `embedding` benchmark group: one training step of EmbeddingBag(sparse=True)
# + SGD on the same shapes and the same index data as the JS rows. Prints row updates per second
# (lookups per step x steps per second) through `timed` (the harness protocol, prepended).
import os
import numpy as np
import torch

torch.set_num_threads(int(os.environ.get('BENCH_TORCH_THREADS', '2')))
rows = int(os.environ['BENCH_ROWS'])
dim = int(os.environ['BENCH_DIM'])
bags = int(os.environ['BENCH_BAGS'])
indices = torch.from_numpy(np.fromfile(os.environ['BENCH_INDICES'], dtype=np.int32).astype(np.int64))
offsets = torch.from_numpy(np.fromfile(os.environ['BENCH_OFFSETS'], dtype=np.int32).astype(np.int64))
grad = torch.from_numpy(np.fromfile(os.environ['BENCH_GRAD'], dtype=np.float32).reshape(bags, dim))

embedding = torch.nn.EmbeddingBag(rows, dim, mode='sum', sparse=True)
optimizer = torch.optim.SGD(embedding.parameters(), lr=0.01)


def step():
    optimizer.zero_grad(set_to_none=True)
    embedding(indices, offsets).backward(grad)
    optimizer.step()


timed(step, indices.numel(), rounds=3, round_seconds=0.5)
