"""Throughput of the learned reward model against raw sentence-transformers `encode` on the same texts, in the same run.

    python benchmarks/reward_model.py                          # groups at <=32, 128 and 512 tokens
    python benchmarks/reward_model.py --lengths 32 --repeats 3 # a quick check
    python benchmarks/reward_model.py --checkpoint runs/reward_model

A GRPO-style group is one prompt and 8 responses. Our side scores the group's 8 (prompt, response) pairs with
`TransformerRewardTrainer.predict` (the prompt encoded once, the responses in one batch, the MLP head on top);
the raw side embeds the same 8 responses with `SentenceTransformer.encode`. Both run the same all-MiniLM-L6-v2
weights with `max_seq_length` 512, so neither truncates, in the same process with the same threads. Runs alternate
(ours, raw, ours, ...) so drifts in machine load hit both; we report the median of each side.

Texts are real: BYU chit-chat messages, cut to an exact token count (`[CLS]` and `[SEP]` included). The short group
has responses of 10 to 32 tokens and a 20-token prompt. For 128 and 512 tokens we time two prompts: a short one
(20 tokens, a customer's opening message) and one as long as the responses (the worst case: 9 sequences encoded
for 8 pairs, so at most 8/9 of the raw rate).

Threads: both sides run with the trainers' default (`default_threads`: 1 torch thread on machines with 2 cores or
fewer, where a second thread beside any other busy process slows everything many times over); `--threads 2` to compare.

Targets (issue #4): the short group at least 100 pairs/s on 2 cores; at 128 and 512 tokens, pairs/s at least 0.8x
the raw encoder's sequences/s. `LearnedRewardFunction` adds conversation splitting, a worker thread and the cache
lookup on top of `predict`; its row shows that cost (cache off).
"""
import argparse, json, random, statistics, time

import torch
from stateset_agents.core.models import load_encoder
from stateset_agents.core.runtime import default_threads
from stateset_agents.training.reward_data import chitchat_path
from stateset_agents.training.reward_model import LearnedRewardFunction
from stateset_agents.training.transformer_reward_model import RewardTrainingConfig, TransformerRewardTrainer

GROUP_SIZE = 8  # responses per prompt, as in a GRPO group


def corpus_words(limit: int = 3000) -> list[str]:
    "Words of real chit-chat messages, in order, to cut texts from."
    data = json.loads(chitchat_path().read_text(encoding="utf-8"))
    words = []
    for conv in list(data.values())[:limit]:
        for block in conv["messages"]:
            for m in block: words += m["text"].split()
    return words


def text_of_tokens(tokenizer, words: list[str], start: int, n_tokens: int) -> str:
    "A text from `words[start:]` that tokenises to exactly `n_tokens` tokens, [CLS] and [SEP] included."
    ids = tokenizer(" ".join(words[start:start + 4 * n_tokens]), add_special_tokens=False, verbose=False)["input_ids"][: n_tokens - 2]
    text = tokenizer.decode(ids)
    assert len(tokenizer(text, verbose=False)["input_ids"]) <= n_tokens, "decoding changed the token count"
    return text


def make_group(tokenizer, words: list[str], rng: random.Random, prompt_tokens: int, lengths: list[int]) -> tuple[str, list[str]]:
    "A prompt and one response per entry of `lengths`, cut from random places in the corpus."
    pick = lambda n: text_of_tokens(tokenizer, words, rng.randrange(len(words) - 8 * n), n)
    return pick(prompt_tokens), [pick(n) for n in lengths]


def timed(fn, *args) -> float:
    "Seconds one call takes."
    t = time.perf_counter(); fn(*args)
    return time.perf_counter() - t


def bench_group(trainer, st, reward_fn, prompt: str, responses: list[str], repeats: int) -> dict:
    "Median pairs/s (predict, reward function) and raw sequences/s over alternating repeats."
    group = [[{"role": "user", "content": prompt}, {"role": "assistant", "content": r}] for r in responses]
    trainer.predict(prompt, responses); st.encode(responses); reward_fn.compute_rewards_sync(group)  # warm-up
    ours, raw, rf = [], [], []
    for _ in range(repeats):
        ours.append(len(responses) / timed(trainer.predict, prompt, responses))
        raw.append(len(responses) / timed(st.encode, responses))
        rf.append(len(responses) / timed(reward_fn.compute_rewards_sync, group))
    return {"pairs_per_s": statistics.median(ours), "raw_seq_per_s": statistics.median(raw),
            "reward_fn_pairs_per_s": statistics.median(rf)}


def run_benchmark(lengths: list[int], repeats: int = 5, checkpoint: str | None = None, seed: int = 0,
                  threads: int = 0) -> list[dict]:
    "One row per (response length, prompt length): pairs/s, raw sequences/s and their ratio."
    trainer = (TransformerRewardTrainer.from_checkpoint(checkpoint, load_optimizer=False) if checkpoint
               else TransformerRewardTrainer(RewardTrainingConfig(max_length=512, seed=seed)))
    torch.set_num_threads(default_threads(threads or None))  # after the trainer, which sets its own default
    trainer.model.eval()
    st = load_encoder(trainer.config.base_model)
    st.max_seq_length = 512  # the same limit as the reward model, so the raw side truncates nothing either
    reward_fn = LearnedRewardFunction(trainer.model, cache_size=0)
    tok, words, rng, rows = trainer.model.tokenizer, corpus_words(), random.Random(seed), []
    for n in lengths:
        sizes = [rng.randint(10, n) for _ in range(GROUP_SIZE)] if n <= 32 else [n] * GROUP_SIZE
        for prompt_tokens in sorted({20, n}) if n > 32 else [20]:
            prompt, responses = make_group(tok, words, rng, prompt_tokens, sizes)
            r = bench_group(trainer, st, reward_fn, prompt, responses, repeats)
            rows.append({"response_tokens": n, "prompt_tokens": prompt_tokens, **r, "ratio": r["pairs_per_s"] / r["raw_seq_per_s"]})
    return rows


def report(rows: list[dict]) -> str:
    "A table of the rows, with each target checked."
    out = [f"threads={torch.get_num_threads()}  group={GROUP_SIZE} responses per prompt",
           f"{'responses':>10} {'prompt':>7} {'predict pairs/s':>16} {'raw encode seq/s':>17} {'ratio':>6} "
           f"{'reward fn pairs/s':>18}  target"]
    for r in rows:
        short = r["response_tokens"] <= 32
        ok = r["pairs_per_s"] >= 100 if short else r["ratio"] >= 0.8
        target = (">= 100 pairs/s" if short else ">= 0.8x raw") + (" ok" if ok else " MISSED")
        label = f"<={r['response_tokens']}" if short else str(r["response_tokens"])
        out.append(f"{label:>10} {r['prompt_tokens']:>7} {r['pairs_per_s']:>16.1f} {r['raw_seq_per_s']:>17.1f} "
                   f"{r['ratio']:>6.2f} {r['reward_fn_pairs_per_s']:>18.1f}  {target}")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lengths", type=int, nargs="+", default=[32, 128, 512], help="response token counts (<=32: the short group)")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per group (median reported)")
    p.add_argument("--checkpoint", default=None, help="a reward-model checkpoint (default: an untrained head: same speed)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: the trainers' default, 1 on <= 2 cores)")
    a = p.parse_args()
    print(report(run_benchmark(a.lengths, a.repeats, a.checkpoint, threads=a.threads)))


if __name__ == "__main__": main()
