"""The adaptation explorer of the explorer page (notebook 07): what a strategy trains, what one more task costs
on disk, and what a quick fit on a few labels buys.

    ex = AdaptationExplorer(encoder, pool, test, steps=50)   # a notebook cell's value: the live panel
    ex.controls["rank"].value = 16     # trainable parameters and task-delta bytes change at once (nothing trains)
    row = ex.fit()                     # what the fit button does: train on `labels` per class, measure on test
    ex.table                           # every fit so far, in fmlab.adapt.compare's columns

Moving a control builds the adapted model (on a copy of the encoder, untrained) and writes its task delta to a
temporary file: a few milliseconds. Training waits for the button, because even a quick fit takes seconds on a CPU.
"""
from __future__ import annotations

import html
import tempfile
from pathlib import Path

import torch

from ..adapt import STRATEGIES, build, save_delta
from ..adapt.compare import ADAPTATIONS, COLUMNS, adapt_once, label_budget
from ..data.dataset import SignalDataset
from ..models import Encoder
from ..viz.offline import plotly_html
from ..viz.style import palette_color
from .live import WatchedFigure, static_note, widget_bundle, wire

# the control that sets each strategy's one size argument: rank of LoRA, width of adapters, number of prompts
SIZE_ARGUMENT = {"lora": "rank", "adapter": "bottleneck", "prompt_tuning": "num_prompts"}


def _kb(n_bytes: int) -> str:
    return f"{n_bytes / 1024:,.1f} kB" if n_bytes < 1024 ** 2 else f"{n_bytes / 1024 ** 2:,.2f} MB"


class AdaptationExplorer:
    """Adapt ``encoder`` to the labelled ``train`` pool, tested on ``test`` (SignalDatasets of one task).
    ``steps`` and ``batch_size``: each quick fit (fmlab.adapt.compare.RUNS has them per profile)."""

    def __init__(self, encoder: Encoder, train: SignalDataset, test: SignalDataset, steps: int = 50,
                 batch_size: int = 32, seed: int = 0, strategy: str = "lora", labels: int = 10):
        if not isinstance(encoder, Encoder):
            raise ValueError(f"AdaptationExplorer: expected an fmlab Encoder (e.g. pretrained('spectrum')[0].encoder), "
                             f"got {type(encoder).__name__}")
        if not isinstance(train, SignalDataset) or not isinstance(test, SignalDataset):
            raise ValueError("AdaptationExplorer: train and test must be SignalDatasets (fmlab.data.load, .split)")
        if train.classes != test.classes:
            raise ValueError(f"AdaptationExplorer: train has classes {train.classes}, test {test.classes}; both must "
                             f"come from one dataset")
        if strategy not in ADAPTATIONS:
            raise ValueError(f"AdaptationExplorer: strategy {strategy!r} is not one of {', '.join(ADAPTATIONS)}")
        counts = torch.bincount(train.y.cpu(), minlength=train.num_classes)
        self.most_labels = int(counts[counts > 0].min())  # labels per class the pool can give every class
        self.encoder, self.train, self.test = encoder, train, test  # each fit adapts a copy: encoder never changes
        self.steps, self.batch_size, self.seed = steps, batch_size, seed
        self.state = dict(strategy=strategy, rank=4, bottleneck=16, num_prompts=8, labels=min(labels, self.most_labels))
        self.rows: list[dict] = []
        self.controls: dict = {}
        self._described: dict = {}
        self._widget = self.info = self.status = self.live = None  # live: the chart's WatchedFigure

    def arguments(self) -> dict:
        """The current strategy's arguments, e.g. {"rank": 4} for LoRA ({} for the probe and full fine-tuning)."""
        key = SIZE_ARGUMENT.get(self.state["strategy"])
        return {key: int(self.state[key])} if key else {}

    def label(self) -> str:
        """The strategy and its arguments as compare() names them, e.g. "lora(rank=4)"."""
        args = self.arguments()
        shown = ", ".join(f"{k}={v}" for k, v in args.items())
        return f"{self.state['strategy']}({shown})" if args else self.state["strategy"]

    def describe(self) -> dict:
        """What the current setting trains and stores, without training: summary (PEFT's line),
        trainable_params, all_params, delta_bytes (the task delta's file; training does not change its size)."""
        key = self.label()
        if key not in self._described:
            clf = build(self.state["strategy"], self.encoder, self.train.num_classes, self.train.classes,
                        **self.arguments())
            with tempfile.TemporaryDirectory() as folder:
                delta_bytes = save_delta(clf, Path(folder) / "delta.safetensors")
            self._described[key] = dict(summary=clf.summary(), trainable_params=clf.trainable_parameters(),
                                        all_params=sum(p.numel() for p in clf.parameters()),
                                        delta_bytes=delta_bytes)
        return self._described[key]

    def update(self, **settings) -> dict:
        """Change settings (strategy, rank, bottleneck, num_prompts, labels) and redraw; returns describe()."""
        unknown = set(settings) - set(self.state)
        if unknown:
            raise ValueError(f"AdaptationExplorer.update: unknown settings {sorted(unknown)}; "
                             f"known: {sorted(self.state)}")
        if settings.get("strategy", self.state["strategy"]) not in ADAPTATIONS:
            raise ValueError(f"AdaptationExplorer: strategy {settings['strategy']!r} is not one of "
                             f"{', '.join(ADAPTATIONS)}")
        self.state.update(settings)
        described = self.describe()
        if self.info is not None:
            self.info.value = (f"<b>{html.escape(self.label())}</b>: {described['summary']} &middot; task delta on "
                               f"disk: <b>{_kb(described['delta_bytes'])}</b>")
            size = SIZE_ARGUMENT.get(self.state["strategy"])
            for name in SIZE_ARGUMENT.values():  # show only the size control the strategy has
                self.controls[name].layout.display = None if name == size else "none"
        return described

    def fit(self) -> dict:
        """Train the current setting on ``labels`` per class of ``train`` and test it: one row of the table
        (strategy, labels, accuracy, trainable_params, delta_bytes, train_seconds, ...)."""
        few = label_budget(self.train, int(self.state["labels"]), self.seed)
        name = self.state["strategy"]
        result, _ = adapt_once(self.encoder, name, self.arguments(), few, self.test, self.seed, self.steps,
                               self.batch_size, STRATEGIES[name].default_lr)
        row = dict(strategy=self.label(), budget=int(self.state["labels"]), labels=len(few), seed=self.seed, **result)
        self.rows.append(row)
        if self.live is not None:
            trace = self.chart.data[ADAPTATIONS.index(name)]
            with self.chart.batch_update():
                trace.x = (*(trace.x or ()), row["trainable_params"])
                trace.y = (*(trace.y or ()), row["accuracy"])
                trace.text = (*(trace.text or ()), f"{row['strategy']}, {row['labels']} labels")
            self.live.sent()
        if self.status is not None:
            self.status.value = (f"{html.escape(row['strategy'])} on {row['labels']} labels: accuracy "
                                 f"<b>{row['accuracy']:.1%}</b> on {len(self.test)} held-out signals (chance "
                                 f"{1 / self.test.num_classes:.0%}), {row['train_seconds']:.1f} s of training")
        return row

    @property
    def table(self):
        """Every fit so far as a pandas DataFrame in compare()'s columns (budget: labels per class), one row each."""
        import pandas as pd
        return pd.DataFrame(self.rows, columns=list(COLUMNS))

    STALE_SECONDS = 3.0  # a page applies an update in well under a second (live.WatchedFigure)

    @property
    def chart(self):
        """The chart's live FigureWidget (None until the panel is built)."""
        return None if self.live is None else self.live.figure

    def _chart(self):
        """Accuracy against trainable parameters (log scale), one trace per strategy, a point per fit."""
        import plotly.graph_objects as go
        fig = go.Figure()
        for i, name in enumerate(ADAPTATIONS):
            rows = [r for r in self.rows if r["strategy"].split("(")[0] == name]
            fig.add_scatter(x=[r["trainable_params"] for r in rows], y=[r["accuracy"] for r in rows], name=name,
                            mode="markers", text=[f"{r['strategy']}, {r['labels']} labels" for r in rows],
                            marker=dict(size=10, color=palette_color(i)),
                            hovertemplate="%{text}<br>%{x:,} trainable: accuracy %{y:.1%}<extra></extra>")
        fig.add_hline(y=1 / self.test.num_classes, line=dict(dash="dot", color="grey"), annotation_text="chance")
        fig.update_xaxes(type="log", title_text="trainable parameters")
        fig.update_yaxes(title_text="test accuracy", tickformat=".0%", range=[0, 1.02])
        fig.update_layout(template="plotly_white", height=360, margin=dict(l=10, r=10, t=40, b=10),
                          title="every quick fit so far: what it trained, what it scored")
        return fig

    @property
    def widget(self):
        """The panel: strategy, its size (LoRA rank, adapter width or prompt count), labels per class and a fit
        button; the setting's cost, the last fit's accuracy and the chart of every fit (built on first use)."""
        if self._widget is None:
            import ipywidgets as w
            s, dim = self.state, self.encoder.dim
            self.controls = dict(
                strategy=w.Dropdown(options=list(ADAPTATIONS), value=s["strategy"], description="strategy"),
                rank=w.IntSlider(value=s["rank"], min=1, max=min(32, dim), description="LoRA rank",
                                 continuous_update=False),
                bottleneck=w.IntSlider(value=s["bottleneck"], min=1, max=min(64, dim), description="adapter width",
                                       continuous_update=False),
                num_prompts=w.IntSlider(value=s["num_prompts"], min=1, max=32, description="prompts",
                                        continuous_update=False),
                labels=w.IntSlider(value=s["labels"], min=1, max=self.most_labels,
                                   description="labels / class", continuous_update=False))
            wire(self.controls, self.update, "fmlab-adapt")
            button = w.Button(description=f"fit ({self.steps} steps)", button_style="primary")
            button.on_click(self._clicked)
            button.add_class("fmlab-adapt-fit")
            self.info, self.status = w.HTML(), w.HTML("Press <i>fit</i> to train this setting on the labels chosen.")
            self.info.add_class("fmlab-adapt-info")
            self.status.add_class("fmlab-adapt-status")
            self.live = WatchedFigure(self._chart(), "fmlab-adapt-chart", self.STALE_SECONDS)
            c = self.controls
            self._widget = w.VBox([w.HBox([c["strategy"], c["rank"], c["bottleneck"], c["num_prompts"]]),
                                   w.HBox([c["labels"], button]), self.info, self.status, self.live.box])
            self.update()
        return self._widget

    def _clicked(self, button) -> None:
        button.disabled, self.status.value = True, f"fitting {html.escape(self.label())} ..."
        try:
            self.fit()
        except ValueError as e:  # e.g. more labels per class than the pool has
            self.status.value = f"<b>{html.escape(str(e))}</b>"
        finally:
            button.disabled = False

    def _repr_mimebundle_(self, include=None, exclude=None):
        """The live panel for Jupyter and Voila; for viewers without a kernel the current setting's cost,
        the fits so far as a table, and their chart as a static plotly figure."""
        bundle = widget_bundle(self.widget, include, exclude)
        columns = ["strategy", "labels", "accuracy", "trainable_params", "delta_bytes", "train_seconds"]
        table = self.table[columns].to_html(index=False, float_format="{:.3g}".format) if self.rows else ""
        bundle["text/html"] = (static_note("the controls and the fit button") +
                               f"<p>{self.info.value}</p>{table}{plotly_html(self._chart())}")
        bundle["text/plain"] = "AdaptationExplorer (the controls need a live Jupyter kernel)"
        return bundle
