"""Multiple-choice scoring: every choice's log-likelihood after its question's context, computing each shared
token once — the context once per question (not once per choice), a few-shot preamble once per task, a choice
repeated within a question once."""

from __future__ import annotations

import copy
from typing import Any, Sequence

from acf.toolkit import model_device, split_pair
from acf_plugins_builtin.evaluators.scoring import runtime as runtime_scoring
from acf_plugins_builtin.evaluators.scoring.logprobs import shared_prefix, tokens_per_batch
from acf_plugins_builtin.evaluators.scoring.runtime import is_runtime


def choice_logprobs(
    model: Any,
    tokenizer: Any,
    items: Sequence[tuple[str, Sequence[str]]],
    *,
    progress=None,
    batch_tokens: int | None = None,
) -> list[list[tuple[float, int]]]:
    """For each (context, choices): every choice's summed log-probability and token count.

    The context is encoded once per question instead of once per choice as lm-eval does, and a choice repeated
    within a question (TruthfulQA's MC1 and MC2 answers overlap) is scored once. One-token choices
    (lettered options) are all scored from the context's last position; longer ones are packed after the
    context behind a block attention mask where the model family takes one (`PACKABLE`), else scored with the
    context's key/value cache repeated per choice. Questions are batched by length with left padding.
    """
    if is_runtime(model):
        return runtime_scoring.choice_logprobs(model, tokenizer, items, progress)
    device = model_device(model)
    budget = batch_tokens or tokens_per_batch(model)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    encoded, where = [], []  # each question's distinct continuations; each choice's index among them
    for context, choices in items:
        pairs = [split_pair(tokenizer, context, c) for c in choices]
        distinct = list(dict.fromkeys(tuple(cont) for _, cont in pairs))
        encoded.append((pairs[0][0], [list(cont) for cont in distinct]))
        where.append([distinct.index(tuple(cont)) for _, cont in pairs])
    multi_token = any(len(c) > 1 for _, conts in encoded for c in conts)
    if multi_token and _packable(model):
        scored = _packed_choice_logprobs(model, encoded, budget, pad, device, progress)
    else:
        scored = _cached_choice_logprobs(model, encoded, budget, pad, device, progress)
    return [[row[k] for k in indexes] for row, indexes in zip(scored, where)]


def _cached_choice_logprobs(model, encoded, budget: int, pad: int, device, progress) -> list[list[tuple[float, int]]]:
    """Questions batched by context length with left padding; one-token choices all scored from the context's
    last position, longer ones with the context's key/value cache repeated per choice."""
    import torch

    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i][0]))
    results: list[list[tuple[float, int]]] = [[] for _ in encoded]
    i = 0
    with torch.inference_mode():
        while i < len(order):
            batch = [order[i]]
            width = max(len(c) for c in encoded[order[i]][1])
            n_max = len(encoded[order[i]][1])
            while i + len(batch) < len(order):
                j = order[i + len(batch)]
                w, n = max(width, max(len(c) for c in encoded[j][1])), max(n_max, len(encoded[j][1]))
                rows = len(batch) + 1
                if rows * len(encoded[batch[0]][0]) > budget or rows * n * w > budget:
                    break
                batch.append(j)
                width, n_max = w, n
            i += len(batch)
            _score_choice_batch(
                model, [encoded[j] for j in batch], [results[j] for j in batch], n_max, width, pad, device
            )
            if progress is not None:
                progress.advance(len(batch))
    return results


# Families whose attention takes a custom 4D mask as given (no sliding window applied on top of it).
PACKABLE = {"llama", "mistral", "qwen2", "qwen3", "phi3", "gemma", "granite", "olmo", "olmo2", "smollm3"}
# Most bytes a batch's 4D attention mask may take.
MASK_BYTES = 256 * 2**20


def _packable(model) -> bool:
    return getattr(model.config, "model_type", None) in PACKABLE and _plain_head(model) is not None


def _packed_choice_logprobs(model, encoded, budget: int, pad: int, device, progress) -> list[list[tuple[float, int]]]:
    """Every choice of a question packed after its context into one row: each choice's tokens see the context and
    their own earlier tokens (a block attention mask) and restart their positions where the context ends. The
    context runs once, no key/value cache is copied and no choice is padded — on TruthfulQA-shaped items
    (a 6-shot context, 5–9 sentence answers) about 3× faster than a cache repeated per choice (measured).

    Tokens every context starts with (a few-shot preamble) run once for all questions (`shared_prefix`); each
    batch attends to their key/value cache."""
    import torch

    body, head = _plain_head(model)
    dtype = next(model.parameters()).dtype
    prefix = shared_prefix([ctx for ctx, _ in encoded])
    shared, cache = len(prefix), None
    if shared:
        with torch.inference_mode():
            cache = body(input_ids=torch.tensor([prefix], device=device), use_cache=True).past_key_values
        encoded = [(ctx[shared:], conts) for ctx, conts in encoded]
    length = [len(ctx) + sum(map(len, conts)) for ctx, conts in encoded]
    order = sorted(range(len(encoded)), key=lambda i: -length[i])
    results: list[list[tuple[float, int]]] = [[] for _ in encoded]
    i = 0
    with torch.inference_mode():
        while i < len(order):
            width = length[order[i]]
            rows = max(1, min(budget // width, MASK_BYTES // (width * (shared + width) * 4)))
            batch = order[i : i + rows]
            i += len(batch)
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            positions = torch.zeros((len(batch), width), dtype=torch.long)
            allow = torch.zeros((len(batch), width, shared + width), dtype=torch.bool)
            allow[:, :, :shared] = True  # every row sees the shared prefix
            allow[:, :, shared:] = torch.eye(width, dtype=torch.bool)  # padding sees itself only
            own = allow[:, :, shared:]
            wanted = []  # (row, position whose logits predict, target token, question, choice)
            for r, j in enumerate(batch):
                ctx, conts = encoded[j]
                n_ctx = len(ctx)
                ids[r, :n_ctx] = torch.tensor(ctx)
                positions[r, :n_ctx] = torch.arange(shared, shared + n_ctx)
                own[r, :n_ctx, :n_ctx] = torch.ones(n_ctx, n_ctx, dtype=torch.bool).tril()
                start = n_ctx
                for c, tokens in enumerate(conts):
                    n = len(tokens)
                    ids[r, start : start + n] = torch.tensor(tokens)
                    positions[r, start : start + n] = torch.arange(shared + n_ctx, shared + n_ctx + n)
                    own[r, start : start + n, :n_ctx] = True
                    own[r, start : start + n, start : start + n] = torch.ones(n, n, dtype=torch.bool).tril()
                    wanted += [(r, n_ctx - 1 if t == 0 else start + t - 1, tokens[t], j, c) for t in range(n)]
                    start += n
                results[j] = [(0.0, len(tokens)) for tokens in conts]
            mask = torch.zeros(allow.shape, dtype=dtype).masked_fill(~allow, torch.finfo(dtype).min).unsqueeze(1)
            past = None
            if cache is not None:
                past = copy.deepcopy(cache)
                past.batch_repeat_interleave(len(batch))
            hidden = body(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                position_ids=positions.to(device),
                past_key_values=past,
                use_cache=past is not None,
            ).last_hidden_state
            rr, pp, tt = (torch.tensor([w[k] for w in wanted], device=device) for k in range(3))
            lp = torch.log_softmax(head(hidden[rr, pp]).float(), dim=-1).gather(-1, tt.unsqueeze(-1)).squeeze(-1)
            for (_, _, _, j, c), value in zip(wanted, lp.tolist()):
                total, n = results[j][c]
                results[j][c] = (total + value, n)
            if progress is not None:
                progress.advance(len(batch))
    return results


def _score_choice_batch(model, encoded, out, n_max: int, width: int, pad: int, device) -> None:
    import torch

    rows, length = len(encoded), max(len(ctx) for ctx, _ in encoded)
    ids = torch.full((rows, length), pad, dtype=torch.long)
    mask = torch.zeros((rows, length), dtype=torch.long)
    for r, (ctx, _) in enumerate(encoded):
        ids[r, length - len(ctx) :] = torch.tensor(ctx)
        mask[r, length - len(ctx) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    single = width == 1  # every choice one token (lettered options): the context's last position scores them all
    first = model(
        input_ids=ids.to(device),
        attention_mask=mask.to(device),
        position_ids=positions.to(device),
        use_cache=not single,
        logits_to_keep=1,
    )
    first_lp = torch.log_softmax(first.logits[:, -1].float(), dim=-1)  # predicts each choice's first token
    if single:
        for r, (_, choices) in enumerate(encoded):
            out[r].extend((float(first_lp[r, tokens[0]]), 1) for tokens in choices)
        return
    cache = first.past_key_values
    cache.batch_repeat_interleave(n_max)
    cont = torch.full((rows * n_max, width), pad, dtype=torch.long)
    cont_mask = torch.zeros((rows * n_max, width), dtype=torch.long)
    for r, (_, choices) in enumerate(encoded):
        for c, tokens in enumerate(choices):
            cont[r * n_max + c, : len(tokens)] = torch.tensor(tokens)
            cont_mask[r * n_max + c, : len(tokens)] = 1
    full_mask = torch.cat([mask.repeat_interleave(n_max, dim=0), cont_mask], dim=1)
    start = mask.sum(-1).repeat_interleave(n_max).unsqueeze(1)
    cont_positions = start + torch.arange(width).unsqueeze(0)
    lengths = [
        (r * n_max + c, len(tokens)) for r, (_, choices) in enumerate(encoded) for c, tokens in enumerate(choices)
    ]
    rest = _continuation_logprobs(
        model, cont.to(device), full_mask.to(device), cont_positions.to(device), cache, lengths
    )
    for r, (_, choices) in enumerate(encoded):
        for c, tokens in enumerate(choices):
            out[r].append((float(first_lp[r, tokens[0]]) + rest[r * n_max + c], len(tokens)))


def _plain_head(model) -> Any:
    """The decoder body and output head when logits are just `head(hidden)` (no soft-capping or scaling)."""
    config = model.config
    if getattr(config, "final_logit_softcapping", None) or getattr(config, "logit_scale", None) not in (None, 1, 1.0):
        return None
    body = model.get_decoder() if hasattr(model, "get_decoder") else None
    head = model.get_output_embeddings()
    return (body, head) if body is not None and head is not None else None


def _continuation_logprobs(model, ids, mask, positions, cache, lengths) -> dict[int, float]:
    """Row → summed log-probability of its tokens after the first (each predicted by the position before).

    Where the model's logits are a plain linear head over the decoder's hidden states, the head and the
    log-softmax run only at the positions that predict a real token, not at padding.
    """
    import torch

    plain = _plain_head(model)
    if plain is None:
        logits = model(
            input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache, use_cache=False
        ).logits
        lp = torch.log_softmax(logits[:, :-1].float(), dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        return {row: float(lp[row, : n - 1].sum()) for row, n in lengths}
    body, head = plain
    hidden = body(
        input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache, use_cache=False
    ).last_hidden_state
    rows = [row for row, n in lengths for _ in range(n - 1)]
    cols = [t for _, n in lengths for t in range(n - 1)]
    out = {row: 0.0 for row, _ in lengths}
    if not rows:
        return out
    r, c = torch.tensor(rows, device=ids.device), torch.tensor(cols, device=ids.device)
    lp = torch.log_softmax(head(hidden[r, c]).float(), dim=-1).gather(-1, ids[r, c + 1].unsqueeze(-1)).squeeze(-1)
    for row, value in zip(rows, lp.tolist()):
        out[row] += value
    return out
