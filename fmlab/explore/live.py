"""What every live panel needs from ipywidgets and plotly: controls that call update(), a static copy for
viewers without a kernel, and a check that the page applied an update to a plotly FigureWidget."""
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


def widget_bundle(widget, include=None, exclude=None) -> dict:
    """The mime bundle of an ipywidget as a dict of its own (one that a panel adds its static copy to)."""
    bundle = widget._repr_mimebundle_(include=include, exclude=exclude)
    return dict(bundle[0] if isinstance(bundle, tuple) else bundle)


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
    loop.call_later(seconds, lambda: stale() and rebuild(fig))
