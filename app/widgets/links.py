"""Table cells drawn as clickable links (published ports open in the browser)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QRect, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QFont, QFontMetrics, QMouseEvent, QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from ..models import roles

Index = QModelIndex | QPersistentModelIndex


def open_in_browser(url: str) -> None:
    """Open ``url`` with the desktop's browser."""
    QDesktopServices.openUrl(QUrl(url))


class LinkDelegate(QStyledItemDelegate):
    """Draws ``roles.LINKS`` entries; a click on a linked entry calls ``opener(url)``."""

    def __init__(self, parent: QWidget | None = None, opener: Callable[[str], None] | None = None):
        super().__init__(parent)
        self.opener = opener or open_in_browser

    def _layout(
        self, option: QStyleOptionViewItem, index: Index
    ) -> list[tuple[QRect, str, str | None]]:
        links = index.data(roles.LINKS) or []
        fm = QFontMetrics(option.font)
        x = option.rect.x() + 4
        out = []
        for i, (text, url) in enumerate(links):
            label = text + (", " if i < len(links) - 1 else "")
            w = fm.horizontalAdvance(label)
            rect = QRect(x, option.rect.y(), fm.horizontalAdvance(text), option.rect.height())
            out.append((rect, text, url))
            x += w
        return out

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        links = index.data(roles.LINKS)
        if not links:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        painter.save()
        link_font = QFont(option.font)
        link_font.setUnderline(True)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        for i, (rect, text, url) in enumerate(self._layout(option, index)):
            painter.setFont(link_font if url else option.font)
            if selected:
                painter.setPen(option.palette.highlightedText().color())
            else:
                painter.setPen(
                    option.palette.link().color() if url else option.palette.text().color()
                )
            sep = ", " if i < len(links) - 1 else ""
            flags = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
            painter.drawText(rect.adjusted(0, 0, 40, 0), int(flags), text)
            if sep:
                painter.setFont(option.font)
                painter.drawText(
                    QRect(rect.right() + 1, rect.y(), 20, rect.height()), int(flags), sep
                )
        painter.restore()

    def url_at(self, option: QStyleOptionViewItem, index: Index, x: int, y: int) -> str | None:
        """The link under a point of the cell, if any."""
        for rect, _text, url in self._layout(option, index):
            if url and rect.contains(x, y):
                return url
        return None

    def editorEvent(self, event: QEvent, model, option: QStyleOptionViewItem, index: Index) -> bool:
        if event.type() == QEvent.Type.MouseButtonRelease and isinstance(event, QMouseEvent):
            if event.button() == Qt.MouseButton.LeftButton:
                pos = event.position().toPoint()
                url = self.url_at(option, index, pos.x(), pos.y())
                if url:
                    self.opener(url)
                    return True
        return super().editorEvent(event, model, option, index)
