"""The container status table (containers/model.py): complete, and followed."""

from __future__ import annotations

import logging

from portside.engine.containers import model


def test_every_status_has_its_row_and_moves_only_to_statuses():
    statuses = {
        model.CREATED,
        model.RUNNING,
        model.PAUSED,
        model.RESTARTING,
        model.REMOVING,
        model.EXITED,
        model.DEAD,
    }
    assert set(model.TRANSITIONS) == statuses
    for targets in model.TRANSITIONS.values():
        assert targets <= statuses


def test_move_outside_the_table_is_logged(caplog):
    st = model.State()
    st.move_to(model.RUNNING)
    st.move_to(model.PAUSED)
    assert not caplog.records
    st = model.State(status=model.DEAD)
    with caplog.at_level(logging.WARNING, logger=model.__name__):
        st.move_to(model.RUNNING)
    assert st.status == model.RUNNING
    assert "dead -> running" in caplog.text
