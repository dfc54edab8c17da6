"""Plain-language questions about mechanical flows: read the words, pin the window to NYSE
sessions, ask each flow channel, and answer with a verdict, the numbers and their basis."""

from flows.questions.engine import answer_from_frames, answer_question
from flows.questions.parse import ParsedQuestion, parse_question
from flows.questions.results import Answer
from flows.questions.windows import ResolvedWindow, resolve_window
from flows.questions.wording import EXAMPLE_QUESTIONS

__all__ = [
    "EXAMPLE_QUESTIONS",
    "Answer",
    "ParsedQuestion",
    "ResolvedWindow",
    "answer_from_frames",
    "answer_question",
    "parse_question",
    "resolve_window",
]
