"""COPER's part of the training loop (spec/COPER.md "Losses", "Pair structure", "Training",
"Evaluation and selection"): the three stages by epoch, the per-pair reconstruction and CCA
terms, the pseudo-labels rebuilt at every step, the soft and permuted CE, and the fused
prediction."""

from __future__ import annotations

import itertools
import math
from contextlib import nullcontext
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from mmcbench.methods.coper.config import COPERConfig
from mmcbench.methods.coper.losses import (
    agreement,
    cca_correlation,
    permuted_batches,
    pseudo_labels,
    self_normalised,
)
from mmcbench.methods.coper.model import COPER
from mmcbench.training.trainers import (
    EVAL_CHUNK,
    ReusesEvalEncoding,
    StepOutcome,
    TrainingData,
)


class COPERTrainer(ReusesEvalEncoding):
    """COPER (or its pseudo-CCA variant): stage I (0-based t < t₂) the pairs' reconstruction
    and self-normalised CCA terms; stage II adds the soft CE on the step's pseudo-labels;
    stage III (t ≥ t₃) the CE (and, under `pseudo_cca_loss`, the CCA) of the within-cluster
    permuted batches. The permutations and paddings draw from a NumPy Generator seeded with
    the run's seed (the code draws from NumPy's global generator). The eval step records
    −silhouette (and Davies–Bouldin) of z under ŷ at the validation epochs."""

    has_eval_step = True
    config: COPERConfig

    def __init__(
        self, data: TrainingData, variant: str, seed: int, config: COPERConfig, device: torch.device
    ) -> None:
        super().__init__(data, variant, seed, config, device)
        b = self.batch_size()
        self.k = self.pseudo_k()
        if self.k > b:
            raise ValueError(
                f"pseudo_labels_k = {self.k} exceeds the batch of {b} rows (min(batch_size, "
                "N)): the pseudo-labels take the k top rows of a batch"
            )
        if self.k < 1:
            raise ValueError(
                f"pseudo_labels_k = floor(B/K) = floor({b}/{self.n_clusters}) = 0: the batch "
                "is smaller than the number of clusters; set pseudo_labels_k or batch_size"
            )
        self.model = COPER(data.view_dims, data.n_clusters, self.config).to(device)
        self.rng = np.random.default_rng(seed)
        self.epoch: int | None = None
        self.pairs = list(itertools.combinations(range(self.model.n_views), 2))
        self.dropped = {"cca": 0, "pseudo_cca": 0}
        self.silhouette: dict[str, float] | None = None

    # ------------------------------------------------------------------ schedule
    def batch_size(self) -> int:
        """B = min(batch_size, N)."""
        return min(self.config.batch_size, self.n_samples)

    def pseudo_k(self) -> int:
        """k: `pseudo_labels_k`, or floor(B/K) when null."""
        if self.config.pseudo_labels_k is None:
            return self.batch_size() // self.n_clusters
        return self.config.pseudo_labels_k

    def batches(self, epoch: int, generator: torch.Generator) -> list[torch.Tensor]:
        """A permutation drawn from `generator` cut into full batches of B (drop_last)."""
        perm = torch.randperm(self.n_samples, generator=generator)
        b = self.batch_size()
        n_full = self.n_samples // b
        return list(perm[: n_full * b].split(b))

    def before_epoch(self, epoch: int) -> None:
        """Remember 1-based `epoch` (0-based t = epoch − 1) and reset the dropped-pair counts."""
        if not 1 <= epoch <= self.config.total_epochs:
            raise ValueError(f"epoch {epoch} is outside 1…{self.config.total_epochs}")
        self.epoch = epoch
        self.dropped = {"cca": 0, "pseudo_cca": 0}

    def stage(self, epoch: int) -> int:
        """1, 2 or 3 for 1-based `epoch` (t = epoch − 1 against t₂, t₃)."""
        t = epoch - 1
        if t >= self.config.stage3_epoch:
            return 3
        return 2 if t >= self.config.stage2_epoch else 1

    # ------------------------------------------------------------------ steps
    def _cca_pairs(
        self, hs_a: list[torch.Tensor], hs_b: list[torch.Tensor], key: str
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Σ over the given pairs' embeddings of C/(P·sg|C|); a pair whose CCA raises is
        dropped (the code's bare try/except) and counted in `self.dropped[key]`."""
        total = hs_a[0].new_zeros(())
        corrs = []
        for a, b in zip(hs_a, hs_b, strict=True):
            try:
                if self.config.cca_precision == "float64":
                    corr = cca_correlation(a.double(), b.double()).to(a.dtype)
                else:
                    corr = cca_correlation(a, b)
                total = total + self_normalised(-corr, len(self.pairs))
                corrs.append(corr.detach())
            except Exception:  # the code drops the pair on any error
                self.dropped[key] += 1
        return total, corrs

    def _pair_terms(self, xs: list[torch.Tensor]) -> tuple[dict[str, torch.Tensor], list, list]:
        """Stage I terms: Σ_{v<w} [R_v + R_w + C_vw/(P·sg|C_vw|)], with fresh train-mode passes
        per pair (autoencoder v, autoencoder w, then E_v, E_w) or, under `shared_forward`, one
        pass per view reused. Returns the terms, the embeddings of the last pass per view and
        the pairs' correlations."""
        model, cfg = self.model, self.config
        recon = xs[0].new_zeros(())
        if cfg.shared_forward:
            hs = model.encode(xs)
            errors = (
                [F.mse_loss(dec(h), x) for dec, h, x in zip(model.decoders, hs, xs, strict=True)]
                if model.decoders is not None
                else None
            )
            a, b = [hs[v] for v, _ in self.pairs], [hs[w] for _, w in self.pairs]
            for v, w in self.pairs:
                if errors is not None:
                    recon = recon + errors[v] + errors[w]
            cca, corrs = self._cca_pairs(a, b, "cca")
            return {"recon": recon, "cca": cca}, hs, corrs
        last: list[torch.Tensor | None] = [None] * len(xs)
        cca, corrs = xs[0].new_zeros(()), []
        for v, w in self.pairs:
            if model.decoders is not None:
                for u in (v, w):
                    h = model.encoders[u](xs[u])
                    recon = recon + F.mse_loss(model.decoders[u](h), xs[u])
            hv, hw = model.encoders[v](xs[v]), model.encoders[w](xs[w])
            last[v], last[w] = hv, hw
            term, pair_corrs = self._cca_pairs([hv], [hw], "cca")
            cca, corrs = cca + term, corrs + pair_corrs
        return {"recon": recon, "cca": cca}, last, corrs

    def _head_ce(
        self, v: int, x: torch.Tensor, target: torch.Tensor, keep_graph: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(CE of G(n(E_v(x))) against `target` (class indices or probabilities), h = E_v(x)).
        The encoder runs under no_grad unless `ce_to_encoders` (the code's fusion is always
        under no_grad in training); the one-view fusion's weight softmax(ω_v) is 1.
        `keep_graph`: h keeps its graph (the permuted CCA's input)."""
        need_h = self.config.ce_to_encoders or keep_graph
        with nullcontext() if need_h else torch.no_grad():
            h = self.model.encoders[v](x)
        e = self.model.embed(h if self.config.ce_to_encoders else h.detach())
        return F.cross_entropy(self.model.head(e), target), h

    def step(self, idx: torch.Tensor) -> StepOutcome:
        self.end_evaluation()
        if self.epoch is None:
            raise RuntimeError("before_epoch() must be called before step()")
        cfg, model = self.config, self.model
        xs = [v[idx] for v in self.views]
        stage = self.stage(self.epoch)
        terms, hs, corrs = self._pair_terms(xs)
        zero = terms["recon"].new_zeros(())
        terms["ce"], terms["perm_ce"] = zero, zero
        if cfg.pseudo_cca_loss:
            terms["perm_cca"] = zero
        # the mean of the kept pairs' corr (no host sync: a tensor)
        stats: dict[str, Any] = {"corr": torch.stack(corrs).mean() if corrs else math.nan}
        if stage >= 2:
            with torch.no_grad():
                # faithful: a fresh train-mode pass (BN running statistics updated again)
                h_now = [h.detach() for h in hs] if cfg.shared_forward else model.encode(xs)
                probs = torch.softmax(model.head(model.fuse(h_now)), dim=1)
                kept, labels = pseudo_labels(probs, h_now, self.k, cfg.cosine_neighbor_threshold)
                before = [int(m.sum()) for m in kept]
                kept = agreement(kept, labels)
            stats["pseudo_kept"] = float(np.mean([float(m.float().mean()) for m in kept]))
            stats["agreement_dropped"] = float(
                np.mean([b - int(m.sum()) for b, m in zip(before, kept, strict=True)])
            )
            skipped = 0
            for v, mask in enumerate(kept):
                if int(mask.sum()) < 2:  # BatchNorm cannot train on < 2 rows (the code raises)
                    skipped += 1
                    continue
                ce, _ = self._head_ce(v, xs[v][mask], labels[v][mask])
                terms["ce"] = terms["ce"] + ce
            stats["ce_views_skipped"] = skipped
            if stage >= 3:
                self._permuted_terms(xs, kept, labels, terms, stats)
        terms["total"] = sum(terms.values())
        return StepOutcome(terms, stats)

    def _permuted_terms(
        self,
        xs: list[torch.Tensor],
        kept: list[torch.Tensor],
        labels: list[torch.Tensor],
        terms: dict[str, torch.Tensor],
        stats: dict[str, Any],
    ) -> None:
        """Σ_v CẼ_v on the within-cluster permuted batches of the hardened pseudo-labels and,
        under `pseudo_cca_loss`, λ Σ_{v<w} C(E_v(X̃_v), E_w(X̃_w))/(P·sg|C|)."""
        rows = [torch.nonzero(m).flatten().cpu().numpy() for m in kept]
        classes = [lab.argmax(dim=1)[m].cpu().numpy() for lab, m in zip(labels, kept, strict=True)]
        perm_rows, perm_labels = permuted_batches(rows, classes, self.k, self.rng)
        stats["perm_rows"] = float(np.mean([len(r) for r in perm_rows]))
        hs: list[torch.Tensor | None] = []
        device = xs[0].device
        for v, (r, lab) in enumerate(zip(perm_rows, perm_labels, strict=True)):
            if len(r) < 2:
                hs.append(None)
                continue
            ce, h = self._head_ce(
                v,
                xs[v][torch.from_numpy(r).to(device)],
                torch.from_numpy(lab).to(device),
                keep_graph=self.config.pseudo_cca_loss,
            )
            terms["perm_ce"] = terms["perm_ce"] + ce
            hs.append(h)
        if self.config.pseudo_cca_loss:
            a, b = [], []
            for v, w in self.pairs:
                if hs[v] is None or hs[w] is None:
                    self.dropped["pseudo_cca"] += 1
                    continue
                a.append(hs[v])
                b.append(hs[w])
            cca, _ = self._cca_pairs(a, b, "pseudo_cca") if a else (terms["perm_cca"], [])
            terms["perm_cca"] = self.config.pseudo_cca_loss_lambda * cca

    def after_epoch(self) -> dict[str, float]:
        """The epoch's dropped CCA pairs (a pair whose CCA raised; the code drops it silently)
        in total over its steps, and the stage."""
        out = {"cca_pairs_dropped": float(self.dropped["cca"])}
        if self.config.pseudo_cca_loss:
            out["pseudo_cca_pairs_dropped"] = float(self.dropped["pseudo_cca"])
        if self.epoch is not None:
            out["stage"] = float(self.stage(self.epoch))
        return out

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def _eval_outputs(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        logits, zs = [], []
        n = views[0].shape[0]
        for i in range(0, n, EVAL_CHUNK):
            lg, z = self.model([v[i : i + EVAL_CHUNK] for v in views])
            logits.append(lg)
            zs.append(z)
        return torch.cat(logits), torch.cat(zs)

    def predict(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(softmax(G(z)), z) in eval mode (BN running statistics), in chunks of EVAL_CHUNK;
        ŷ = argmax. On the run's own views it keeps (z, ŷ) for this evaluation's eval step."""
        logits, z = self._eval_outputs(views)
        self.keep_eval_encoding(views, (z, logits.argmax(dim=1)))
        return torch.softmax(logits, dim=1), z

    def eval_step(self, idx: torch.Tensor) -> StepOutcome:
        """At a validation epoch (a multiple of `validation_every`): −silhouette and the
        Davies–Bouldin index of z under ŷ on all N samples (the same for every batch, computed
        once per evaluation; NaN when ŷ has one cluster or every sample its own); NaN at other
        epochs. z and ŷ come from the evaluation's `predict` when it ran on this model."""
        if self.epoch is None or self.epoch % self.config.validation_every:
            nan = math.nan
            return StepOutcome({}, {"neg_silhouette": nan, "davies_bouldin": nan})
        if self.silhouette is None:
            kept = self.eval_encoding
            if kept is None:
                self.model.eval()
                logits, z = self._eval_outputs(self.views)
                kept = (z, logits.argmax(dim=1))
            self.silhouette = cluster_indices(*kept)
        return StepOutcome({}, dict(self.silhouette))

    def end_evaluation(self) -> None:
        super().end_evaluation()
        self.silhouette = None

    def fusion_weights(self) -> torch.Tensor:
        """softmax(ω), one per view (constant: ω gets no gradient)."""
        return torch.softmax(self.model.omega.detach(), dim=0)


def cluster_indices(z: torch.Tensor, predicted: torch.Tensor) -> dict[str, float]:
    """−silhouette (Euclidean) and Davies–Bouldin of `z` under `predicted` (sklearn); NaN for
    both unless 2 ≤ clusters ≤ N − 1."""
    from sklearn.metrics import davies_bouldin_score, silhouette_score

    x = z.double().cpu().numpy()
    y = predicted.cpu().numpy()
    if not 2 <= len(np.unique(y)) <= len(y) - 1:
        return {"neg_silhouette": math.nan, "davies_bouldin": math.nan}
    return {
        "neg_silhouette": -float(silhouette_score(x, y)),
        "davies_bouldin": float(davies_bouldin_score(x, y)),
    }
