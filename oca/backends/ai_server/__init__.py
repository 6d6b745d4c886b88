"""The AI model server: ONNX Runtime inference behind a small HTTP API (see server.py)."""
