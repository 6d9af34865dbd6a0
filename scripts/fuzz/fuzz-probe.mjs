// Preloaded into the gateway under fuzzing (node --expose-gc --import this-file dist/local/main.mjs): on
// the IPC message 'memory' it runs a full garbage collection and answers process.memoryUsage(), so the
// fuzzer measures the very bundle `npm start` runs without a debug route in it.
process.on('message', (message) => {
  if (message !== 'memory' || typeof globalThis.gc !== 'function') return;
  // Two passes: the first can leave objects that only a finalizer released.
  globalThis.gc();
  globalThis.gc();
  process.send?.({ memory: process.memoryUsage() });
});
// The channel must not keep the gateway alive once it is asked to stop.
process.channel?.unref();
