#!/usr/bin/env python3
"""Write a tiny Llama-architecture GGUF for testing the coach's real code path.

2 layers, width 64, random weights (q8_0 matrices, f32 norms), the Llama-2 SentencePiece vocabulary
that TinyLlama uses (copied from a vocabulary-only GGUF) and TinyLlama-1.1B-Chat's chat template in
its metadata. llama.cpp loads it in well under a second and generates noise: enough to test
loading, chat formatting, streaming, time limits and fallbacks — never words.

The vocabulary GGUF (``ggml-vocab-llama-spm.gguf``) ships inside the llama-cpp-python source
package at ``vendor/llama.cpp/models/``; with ``--vocab`` unset this script takes it from
``--sdist`` or downloads the sdist with ``pip download --no-binary llama-cpp-python --no-deps
llama-cpp-python`` (only that package from source: its build tools come as wheels).

    python scripts/make_tiny_gguf.py OUT.gguf [--vocab ggml-vocab-llama-spm.gguf] [--seed 0]
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

log = logging.getLogger("make_tiny_gguf")

VOCAB_MEMBER = "vendor/llama.cpp/models/ggml-vocab-llama-spm.gguf"

#: The chat template of TinyLlama/TinyLlama-1.1B-Chat-v1.0 (its tokenizer_config.json).
TINYLLAMA_CHAT_TEMPLATE = (
    "{% for message in messages %}\n"
    "{% if message['role'] == 'user' %}\n"
    "{{ '<|user|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'system' %}\n"
    "{{ '<|system|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'assistant' %}\n"
    "{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n"
    "{% endif %}\n"
    "{% if loop.last and add_generation_prompt %}\n"
    "{{ '<|assistant|>' }}\n"
    "{% endif %}\n"
    "{% endfor %}"
)

N_EMBD = 64
N_FF = 192
N_HEAD = 4
N_HEAD_KV = 2
N_LAYER = 2
N_CTX = 2048


def vocab_from_sdist(sdist: Path | None, workdir: Path) -> Path:
    """Extract the vocabulary GGUF from a llama-cpp-python sdist (downloaded when not given)."""
    if sdist is None:
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-binary", "llama-cpp-python", "--no-deps",
            "-d", str(workdir), "llama-cpp-python",
        ]  # fmt: skip
        log.info("downloading the llama-cpp-python sdist for its vocabulary file")
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        found = sorted(workdir.glob("llama_cpp_python-*.tar.gz"))
        if not found:
            raise RuntimeError(
                "pip download of the llama-cpp-python sdist failed: "
                + (res.stderr.strip().splitlines() or ["no output"])[-1]
                + "; pass --vocab PATH to a ggml-vocab-llama-spm.gguf instead"
            )
        sdist = found[-1]
    with tarfile.open(sdist) as tf:
        member = next((m for m in tf.getmembers() if m.name.endswith(VOCAB_MEMBER)), None)
        if member is None:
            raise RuntimeError(f"{sdist} has no {VOCAB_MEMBER}")
        out = workdir / "ggml-vocab-llama-spm.gguf"
        with tf.extractfile(member) as src, open(out, "wb") as dst:
            dst.write(src.read())
    return out


def _field(reader, name: str):
    f = reader.fields.get(name)
    if f is None:
        raise ValueError(f"vocabulary file has no {name}")
    return f


def make_tiny_gguf(out: Path, vocab: Path, *, seed: int = 0) -> Path:
    """Write the tiny model to ``out`` and return it."""
    import gguf

    rd = gguf.GGUFReader(str(vocab))
    tokens = [
        bytes(_field(rd, "tokenizer.ggml.tokens").parts[i]) for i in _field(rd, "tokenizer.ggml.tokens").data
    ]
    sf = _field(rd, "tokenizer.ggml.scores")
    scores = [float(sf.parts[i][0]) for i in sf.data]
    tf_ = _field(rd, "tokenizer.ggml.token_type")
    types = [int(tf_.parts[i][0]) for i in tf_.data]
    n_vocab = len(tokens)
    if str(_field(rd, "tokenizer.ggml.model").contents()) != "llama":
        raise ValueError(f"{vocab} is not a SentencePiece (llama) vocabulary")

    rng = np.random.default_rng(seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    w = gguf.GGUFWriter(str(tmp), "llama")
    w.add_name("hiitpi-tiny-llama-random")
    w.add_context_length(N_CTX)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_rope_dimension_count(N_EMBD // N_HEAD)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_vocab_size(n_vocab)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_chat_template(TINYLLAMA_CHAT_TEMPLATE)

    def matrix(name: str, rows: int, cols: int) -> None:
        # numpy (rows, cols) is GGUF ne = (cols, rows); q8_0 needs cols % 32 == 0
        a = (rng.standard_normal((rows, cols)) * 0.2).astype(np.float32)
        q = gguf.quants.quantize(a, gguf.GGMLQuantizationType.Q8_0)
        w.add_tensor(name, q, raw_dtype=gguf.GGMLQuantizationType.Q8_0)

    def norm(name: str) -> None:
        w.add_tensor(name, np.ones(N_EMBD, dtype=np.float32))

    kv = N_EMBD // N_HEAD * N_HEAD_KV
    matrix("token_embd.weight", n_vocab, N_EMBD)
    for i in range(N_LAYER):
        norm(f"blk.{i}.attn_norm.weight")
        matrix(f"blk.{i}.attn_q.weight", N_EMBD, N_EMBD)
        matrix(f"blk.{i}.attn_k.weight", kv, N_EMBD)
        matrix(f"blk.{i}.attn_v.weight", kv, N_EMBD)
        matrix(f"blk.{i}.attn_output.weight", N_EMBD, N_EMBD)
        norm(f"blk.{i}.ffn_norm.weight")
        matrix(f"blk.{i}.ffn_gate.weight", N_FF, N_EMBD)
        matrix(f"blk.{i}.ffn_up.weight", N_FF, N_EMBD)
        matrix(f"blk.{i}.ffn_down.weight", N_EMBD, N_FF)
    norm("output_norm.weight")
    matrix("output.weight", n_vocab, N_EMBD)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tmp.replace(out)
    log.info("wrote %s (%d bytes)", out, out.stat().st_size)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="GGUF file to write")
    p.add_argument(
        "--vocab", type=Path, help="a vocabulary-only Llama-2 SPM GGUF (ggml-vocab-llama-spm.gguf)"
    )
    p.add_argument(
        "--sdist", type=Path, help="a llama-cpp-python sdist (.tar.gz) to take the vocabulary from"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed for the weights")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory(prefix="tiny-gguf-") as wd:
        vocab = args.vocab or vocab_from_sdist(args.sdist, Path(wd))
        make_tiny_gguf(args.out, vocab, seed=args.seed)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
