"""The app's look: one stylesheet on top of Qt's Fusion style."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

ACCENT = "#2f80ed"

STYLESHEET = f"""
QListWidget#sidebar {{
    background: #1f2933; color: #e4e7eb; border: none; font-size: 14px; outline: 0;
    padding-top: 8px;
}}
QListWidget#sidebar::item {{ padding: 10px 16px; border-left: 3px solid transparent; }}
QListWidget#sidebar::item:selected {{
    background: #323f4b; color: white; border-left: 3px solid {ACCENT};
}}
QListWidget#engines {{
    background: #1f2933; color: #e4e7eb; border: none; font-size: 13px; outline: 0;
}}
QListWidget#engines::item {{ padding: 5px 14px; border-left: 3px solid transparent; }}
QListWidget#engines::item:selected {{
    background: #323f4b; color: white; border-left: 3px solid {ACCENT};
}}
QLabel#enginesHeading {{ color: #9aa5b1; font-size: 11px; font-weight: 600; }}
QPushButton#addEngine {{
    background: #323f4b; color: #e4e7eb; border: none; border-radius: 3px; font-weight: 600;
}}
QLabel#brand {{
    background: #1f2933; color: white; font-size: 17px; font-weight: 600; padding: 14px 16px 6px;
}}
QLabel#heading {{ font-size: 16px; font-weight: 600; }}
QLabel#offlineTitle {{ font-size: 20px; font-weight: 600; }}
QLabel#offlineDetail {{ color: #52606d; }}
QLabel#key {{ color: #616e7c; }}
QLabel#chartTitle {{ color: #52606d; font-weight: 600; }}
QLabel#chartValue {{ color: #1f2933; }}
QTreeView, QTableView {{ alternate-background-color: #f5f7fa; border: 1px solid #d9e2ec; }}
QHeaderView::section {{
    background: #f0f4f8; padding: 4px 6px; border: none; border-bottom: 1px solid #d9e2ec;
}}
QGroupBox {{ font-weight: 600; border: 1px solid #d9e2ec; border-radius: 4px; margin-top: 10px; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 8px; padding: 0 4px; }}
QPushButton#primary {{ background: {ACCENT}; color: white; border-radius: 3px; padding: 5px 12px; }}
QStatusBar QLabel {{ padding: 0 6px; }}
"""


def apply(app: QApplication) -> None:
    """Fusion with a light palette and the stylesheet (the same on every desktop)."""
    app.setStyle("Fusion")
    pal = app.palette()
    pal.setColor(QPalette.ColorRole.Highlight, QColor(ACCENT))
    pal.setColor(QPalette.ColorRole.Link, QColor(ACCENT))
    app.setPalette(pal)
    app.setStyleSheet(STYLESHEET)
