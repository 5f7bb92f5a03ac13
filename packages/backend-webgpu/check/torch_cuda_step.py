# PyTorch CUDA peer of check/device.ts's training step: EmbeddingBag(sum) + SGD at the same
# shapes (4M x 64, 16384 bags x 26 lookups, uniform rows), forward + backward + step, synchronized.
# Prints row updates per second for float32 (sparse and dense gradients) and float16 weights.
import json, time, torch
rows, dim, bags, per_bag = 4_000_000, 64, 16384, 26
dev = 'cuda'
g = torch.Generator(device='cpu').manual_seed(5)
indices = torch.randint(0, rows, (bags * per_bag,), generator=g).to(dev)
offsets = (torch.arange(bags) * per_bag).to(dev)
grad = (torch.rand(bags, dim, generator=g) - 0.5).mul(0.02).to(dev)
out = {}
for name, dtype, sparse in [('float32 sparse', torch.float32, True), ('float32 dense-grad', torch.float32, False), ('float16 sparse (nearest)', torch.float16, True)]:
    emb = torch.nn.EmbeddingBag(rows, dim, mode='sum', sparse=sparse).to(dev, dtype)
    opt = torch.optim.SGD(emb.parameters(), lr=0.01)
    gd = grad.to(dtype)
    def step():
        opt.zero_grad(set_to_none=True)
        emb(indices, offsets).backward(gd)
        opt.step()
    for _ in range(5): step()
    torch.cuda.synchronize()
    n = 0; t0 = time.perf_counter()
    while time.perf_counter() - t0 < 2.0:
        step(); n += 1
    torch.cuda.synchronize(); dt = time.perf_counter() - t0
    rate = n * indices.numel() / dt
    out[name] = rate
    print(f'PyTorch {torch.__version__} CUDA EmbeddingBag {name} + SGD: {rate/1e6:.1f} M row-updates/s ({dt/n*1e3:.2f} ms/step)', flush=True)
    del emb, opt
print(json.dumps(out))
