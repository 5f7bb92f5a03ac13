/** Compute pipelines compiled once per shader key (entry point `main`, auto layout). */
export class PipelineCache {
  private readonly pipelines = new Map<string, GPUComputePipeline>();

  constructor(private readonly device: GPUDevice) {}

  /** The pipeline of `key`, compiling `source()` the first time the key is seen. */
  get(key: string, source: () => string): GPUComputePipeline {
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      const module = this.device.createShaderModule({ label: key, code: source() });
      pipeline = this.device.createComputePipeline({
        label: key,
        layout: 'auto',
        compute: { module, entryPoint: 'main' },
      });
      this.pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  /** How many pipelines have been compiled. */
  get size(): number {
    return this.pipelines.size;
  }
}
