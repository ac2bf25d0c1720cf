"""What every live panel needs from ipywidgets and plotly: controls that call update(), a static copy for
viewers without a kernel, and plotly FigureWidgets that are made anew when their page drops updates."""
from __future__ import annotations


def static_note(needs: str = "the controls") -> str:
    """The line above a panel's static copy (for viewers without a kernel): what of the panel ``needs`` one."""
    return (f"<p><i>Static copy: {needs} need a live kernel (JupyterLab, or the page that "
            "<code>fmlab explore</code> serves).</i></p>")


def wire(controls: dict, update, css: str) -> None:
    """Moving ``controls[key]`` calls ``update(key=new value)``; each control gets the CSS class ``css``-key
    (what a browser test finds it by)."""
    for key, control in controls.items():
        control.observe(lambda change, key=key: update(**{key: change["new"]}), names="value")
        control.add_class(f"{css}-{key}")
        if hasattr(control.style, "description_width"):
            control.style.description_width = "initial"  # the whole label ("labels / class"), not its first letters


def widget_bundle(widget, include=None, exclude=None) -> dict:
    """The mime bundle of an ipywidget as a dict of its own (one that a panel adds its static copy to)."""
    bundle = widget._repr_mimebundle_(include=include, exclude=exclude)
    return dict(bundle[0] if isinstance(bundle, tuple) else bundle)


def update_traces(fig, traces: list[dict], layout: dict | None = None) -> None:
    """Give the traces of the FigureWidget ``fig`` new values (one dict per trace, in order; {} leaves a trace as it
    is) and its layout new ``layout`` values ("title.text": ...). The traces whose changed properties are the same
    go in one message, the layout in another. One batch over traces that change different properties would send,
    for a property some of them leave as it is, a hole that plotly's page writes into its copy of those traces;
    from then on the page answers no edit of the figure (and its watch remakes it)."""
    groups: dict[frozenset, list] = {}
    for trace, values in zip(fig.data, traces):
        changed = {k: v for k, v in values.items() if not type(trace)._vals_equal(trace[k], v)}  # plotly's own test
        if changed:
            groups.setdefault(frozenset(changed), []).append((trace, changed))
    for group in groups.values():
        with fig.batch_update():
            for trace, changed in group:
                trace.update(changed)
    if layout:
        fig.update_layout(layout)


def when_not_applied(fig, seconds: float, rebuild) -> None:
    """Call ``rebuild(fig)`` if the page has not applied the last trace edit sent to the FigureWidget ``fig``
    within ``seconds``. anywidget 0.11 gives each widget 2 s from its creation to load its code, and a plotly
    widget's is 5 MB: on a page with four of them and a busy CPU the last ones can miss it. Such a view still
    draws, but every later update to it is dropped without a word. The page answers each applied trace edit
    (plotly's _js2py_traceDeltas; its layout answers never arrive, so on_edits_completed cannot tell), so a figure
    whose edit stays unanswered is stale; one made now loads alone, in time."""
    import asyncio
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no kernel event loop (plain Python, unit tests): no page to wait for
        return
    edit = getattr(fig, "_last_trace_edit_id", None)
    stale = lambda: getattr(fig, "_trace_edit_in_process", False) and fig._last_trace_edit_id == edit
    # Asked again a third of that later: while a cell runs (Voila runs the notebook as the page draws) the kernel
    # reads no message, and the timer may fire before the answer that came meanwhile is read.
    confirm = lambda: stale() and loop.call_later(seconds / 3, lambda: stale() and rebuild(fig))
    loop.call_later(seconds, confirm)


class WatchedFigure:
    """A plotly FigureWidget (``figure``) in a box of its own (``box``, what a panel shows), made anew from its
    present state (zoom included) when its page drops updates: call ``sent()`` after each update of ``figure``. Once
    the page has drawn it, it gets an edit that draws nothing, so a page that drops updates is found before anyone
    touches a control. ``on_click(trace, points, state)`` is wired to every trace, of each new figure too."""

    # Made anew once at most: a page that drops updates to a new widget too is not helped by more.
    MOST = 1

    def __init__(self, fig, css: str, seconds: float = 3.0, on_click=None):
        import ipywidgets as w
        self.css, self.seconds, self.on_click, self.rebuilt = css, seconds, on_click, 0
        self.figure = self._make(fig)
        self.box = w.Box([self.figure])

    def _make(self, fig):
        import plotly.graph_objects as go
        fig = go.Figure(fig)  # a copy: an edit of the widget before its page exists would not reach the page
        # plotly's toolbar stands upright in the right margin, where it covers no panel title
        fig.update_layout(modebar_orientation="v", margin_r=max(fig.layout.margin.r or 0, 40))
        live = go.FigureWidget(fig)
        live.add_class(self.css)
        for trace in live.data if self.on_click is not None else ():
            trace.on_click(self.on_click)
        live._fmlab_probes, live._fmlab_works, made = 0, False, live._last_trace_edit_id
        # The drawn signal: a view answers with its trace deltas, for the edit it was drawn at, once its first plot
        # is made (plotly's perform_render). An edit sent before that, when the view merely exists, often goes
        # unanswered on a page that works, so the probe waits for it; a view that has not drawn ``seconds`` after
        # it appeared is probed then, and again once it draws. An answer to a later edit shows the page applies
        # updates: no more probes.
        live.observe(lambda change: change["new"] and self._answered(live, change["new"]["trace_edit_id"], made),
                     names="_js2py_traceDeltas")
        live.observe(lambda change: change["new"] and not change["old"] and self._probe_later(live),
                     names="_view_count")
        return live

    # Probes before a figure is made anew: on a busy page (Voila still running cells, a loaded CPU) one sent as the
    # view draws can go unanswered although the page works; one that drops updates drops every one.
    PROBES = 2

    def _answered(self, live, edit: int, made: int) -> None:
        if edit != made:
            live._fmlab_works = True  # it applied an edit sent after it was made
        elif not live._fmlab_works and (live._fmlab_probes == 0 or live._last_trace_edit_id != edit):
            self._probe(live)  # drawn now; a probe sent before it drew may have been dropped

    def _probe_later(self, live) -> None:
        import asyncio
        try:
            asyncio.get_running_loop().call_later(self.seconds, lambda: live._fmlab_probes == 0 and self._probe(live))
        except RuntimeError:  # no kernel event loop: no page
            pass

    def _probe(self, live) -> None:
        if live._fmlab_works or live._fmlab_probes >= self.PROBES:
            return
        live._fmlab_probes += 1
        with live.batch_update():
            live.data[0].meta = (live.data[0].meta or 0) + 1  # free data of the trace: nothing to draw
        when_not_applied(live, self.seconds, self._unanswered)

    def _unanswered(self, stale) -> None:
        """A probe stayed unanswered: probe again, or once PROBES went unanswered, make the figure anew."""
        if stale._fmlab_probes < self.PROBES:
            self._probe(stale)
        else:
            self._rebuild(stale)

    def sent(self) -> None:
        """Watch the update just sent: unapplied after ``seconds``, the figure is made anew."""
        when_not_applied(self.figure, self.seconds, self._rebuild)

    def _rebuild(self, stale) -> None:
        if stale is not self.figure or self.rebuilt >= self.MOST:
            return  # replaced already, or past helping
        self.figure = self._make(stale)
        self.box.children = (self.figure,)
        stale.close()
        self.rebuilt += 1
