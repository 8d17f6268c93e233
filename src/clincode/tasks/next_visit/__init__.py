"""Next-visit forecasting: build (streamed, memory-mapped), batches and the registered task."""
