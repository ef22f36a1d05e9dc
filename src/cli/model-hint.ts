/** What to do when a device's execution provider cannot run, per device. */
const PROVIDER_HINTS: Readonly<Record<string, string>> = {
  cuda: "CUDA needs an NVIDIA driver, the CUDA 12 and cuDNN 9 libraries on the library path, and onnxruntime-node's CUDA provider files (its install script, which Pictor leaves unapproved, downloads them: `ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install`); see docs/gpu.md",
  webgpu:
    'WebGPU is bundled with ONNX Runtime but needs a GPU driver with Vulkan (Linux), D3D12 (Windows) or Metal (macOS); see docs/gpu.md',
  dml: 'DirectML runs on Windows only; see docs/gpu.md',
  coreml: 'CoreML runs on macOS only; see docs/gpu.md',
};

/**
 * The second line of the start's warning about an unavailable default model: the provider when
 * the device's execution provider failed (not the model path, which is fine then), else where
 * the model was expected.
 */
export function unavailableModelHint(error: string, expectedAt: string): string {
  const provider = /execution provider '(\w+)'/.exec(error)?.[1];
  if (provider !== undefined)
    return (
      `  workers.devices asks for '${provider}', which cannot run here. ` +
      `${PROVIDER_HINTS[provider] ?? 'see docs/gpu.md'}; or set workers.devices: [cpu]`
    );
  return `  expected at ${expectedAt}; set models.list / models.default in pictor.yaml (or --model)`;
}
