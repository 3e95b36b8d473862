"""User formulas f(x, y) for 2D loss surfaces, parsed safely and evaluated with torch (autograd works).

The text is normalised (``^`` to ``**``, a few unicode symbols to ASCII), parsed with
``ast.parse(mode="eval")`` and compiled by walking the tree against a strict whitelist into a small
tree of closures over torch ops. User text is never passed to ``eval``, ``exec`` or ``compile``.
Numbers are float64 tensors, never Python ints, so ``10^400`` gives inf instead of hanging.
"""

from __future__ import annotations

import ast
import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn

import numpy as np
import torch
import torch.nn.functional as F

Tensor = torch.Tensor
_Fn = Callable[[Tensor, Tensor], Tensor]
_Compiled = tuple[_Fn, Tensor | None]  # the closure, and its value when it does not depend on x or y

_UNARY: dict[str, Callable[[Tensor], Tensor]] = {
    "sin": torch.sin,
    "cos": torch.cos,
    "tan": torch.tan,
    "asin": torch.asin,
    "acos": torch.acos,
    "atan": torch.atan,
    "arctan": torch.atan,
    "sinh": torch.sinh,
    "cosh": torch.cosh,
    "tanh": torch.tanh,
    "exp": torch.exp,
    "log": torch.log,
    "log10": torch.log10,
    "log2": torch.log2,
    "sqrt": torch.sqrt,
    "abs": torch.abs,
    "sigmoid": torch.sigmoid,
    "softplus": F.softplus,
    "relu": torch.relu,
}
_BINARY: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "min": torch.minimum,
    "max": torch.maximum,
    "atan2": torch.atan2,
    "hypot": torch.hypot,
    "pow": torch.pow,
}
_OPERATORS: dict[type[ast.operator], Callable[[Tensor, Tensor], Tensor]] = {
    ast.Add: torch.add,
    ast.Sub: torch.sub,
    ast.Mult: torch.mul,
    ast.Div: torch.div,
    ast.Pow: torch.pow,
}
_OPERATOR_SYMBOLS: dict[type[ast.operator], str] = {
    ast.Mod: "%",
    ast.FloorDiv: "//",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.BitXor: "^",
}
_REFUSED: dict[type[ast.AST], str] = {
    ast.Subscript: "indexing with [...] is",
    ast.Compare: "comparisons (<, >, ==, ...) are",
    ast.BoolOp: "'and'/'or' are",
    ast.IfExp: "'if ... else' is",
    ast.Lambda: "'lambda' is",
    ast.List: "lists [...] are",
    ast.Dict: "dicts {...} are",
    ast.Set: "sets {...} are",
    ast.ListComp: "comprehensions are",
    ast.SetComp: "comprehensions are",
    ast.DictComp: "comprehensions are",
    ast.GeneratorExp: "comprehensions are",
    ast.JoinedStr: "f-strings are",
    ast.NamedExpr: "':=' is",
    ast.Starred: "'*' unpacking is",
    ast.Await: "'await' is",
}

FORMULA_FUNCTIONS: tuple[str, ...] = tuple(_UNARY) + tuple(_BINARY)
FORMULA_CONSTANTS: tuple[str, ...] = ("pi", "e")
MAX_FORMULA_LENGTH = 500
_MAX_DEPTH = 60
_CONSTANT_VALUES = {"pi": math.pi, "e": math.e}
_EXAMPLE = "(1-x)^2 + 100*(y-x^2)^2"
_NAMES_HELP = "use x, y, pi, e and the functions " + ", ".join(FORMULA_FUNCTIONS)
# Replacements before parsing; "^" may become "**" because it has no other meaning here.
_NORMALISE = {
    "^": "**",
    "\u2212": "-",
    "\u2013": "-",
    "\u00d7": "*",
    "\u00b7": "*",
    "\u22c5": "*",
    "\u00f7": "/",
    "\u00b2": "**2",
    "\u00b3": "**3",
    "\u2074": "**4",
    "\u03c0": "pi",
    "\t": " ",
    "\n": " ",
    "\r": " ",
    "\u00a0": " ",
}
_NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
# Two operands with nothing between them, e.g. "2x", "2 sin", "x y", ") y": a forgotten '*'.
_IMPLICIT_PRODUCT = re.compile(
    rf"(?P<a>(?<![\w.])(?:{_NUMBER}(?=\s*[A-Za-z_])|[A-Za-z_]\w*(?=\s))|\))\s*"
    rf"(?P<b>[A-Za-z_]\w*|{_NUMBER})"
)
_TOKEN = re.compile(r"\w+|\*\*|//|\S")


class FormulaError(ValueError):
    """A formula that cannot be used. ``column`` is the 0-based character offset in the user's text, or None."""

    def __init__(self, message: str, column: int | None = None):
        self.message = message
        self.column = column
        super().__init__(message if column is None else f"column {column + 1}: {message}")


@dataclass(frozen=True)
class Formula:
    """A parsed formula; ``Formula(text)`` parses (raising FormulaError), calling it evaluates f(x, y)."""

    text: str
    _fn: _Fn = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_fn", _compile_text(self.text))

    def __call__(self, x: Tensor, y: Tensor) -> Tensor:
        """f(x, y) elementwise: the broadcast shape of x and y, x's dtype and device, with autograd."""
        out = self._fn(x, y)
        if not out.requires_grad and (x.requires_grad or y.requires_grad) and torch.is_grad_enabled():
            # a constant formula: link it to x and y with a zero gradient, so that backward() works
            out = torch.where(torch.zeros((), dtype=torch.bool, device=x.device), x + y, out.to(x.device))
        out = out.to(device=x.device, dtype=x.dtype)
        shape = torch.Size(np.broadcast_shapes(tuple(x.shape), tuple(y.shape)))
        return out if out.shape == shape else out.expand(shape).contiguous()

    def __reduce__(self) -> tuple[type[Formula], tuple[str]]:
        return Formula, (self.text,)  # the closures do not pickle; the text re-parses


def parse_formula(text: str) -> Formula:
    """Parse the user's ``text`` into a :class:`Formula`; raises :class:`FormulaError`."""
    return Formula(text)


def _compile_text(text: str) -> _Fn:
    if not text.strip():
        raise FormulaError(f"type a formula in x and y, e.g. {_EXAMPLE}")
    if len(text) > MAX_FORMULA_LENGTH:
        raise FormulaError(f"the formula is too long ({len(text)} characters, at most {MAX_FORMULA_LENGTH})")
    chars: list[str] = []
    origin: list[int] = []  # origin[i]: the column in ``text`` of the normalised text's character i
    for i in range(len(text) - len(text.lstrip()), len(text)):  # leading blanks would be "unexpected indent"
        rep = _NORMALISE.get(text[i], text[i])
        chars.append(rep)
        origin.extend([i] * len(rep))
    origin.append(len(text))
    norm = "".join(chars)
    depth = 0
    for i, ch in enumerate(norm):
        if not " " <= ch <= "~" or ch == "#":  # printable ASCII only: AST offsets are then characters
            raise FormulaError(f"unexpected character {ch!r}", origin[i])
        depth += (ch in "([{") - (ch in ")]}")
        if depth > _MAX_DEPTH:
            raise FormulaError(f"too many nested parentheses (more than {_MAX_DEPTH})", origin[i])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "'int' object is not callable" for 2(x+1)
            tree = ast.parse(norm, mode="eval")
    except SyntaxError as err:
        index = min(err.offset - 1, len(norm)) if err.offset else len(norm)
        message, index = _syntax_message(err.msg, norm, index, text, origin)
        raise FormulaError(message, origin[index]) from None
    except (RecursionError, MemoryError):
        raise FormulaError("the formula is nested too deeply") from None
    except ValueError as err:
        raise FormulaError(str(err)) from None
    try:
        fn, _ = _Compiler(norm, origin).compile(tree.body, 0)
    except (RecursionError, MemoryError):
        raise FormulaError("the formula is nested too deeply") from None
    return fn


def _syntax_message(msg: str, norm: str, index: int, text: str, origin: list[int]) -> tuple[str, int]:
    """A short human message for a SyntaxError at ``norm[index]``, and the index it refers to."""
    if msg.startswith(("invalid syntax", "invalid decimal literal")):
        for m in _IMPLICIT_PRODUCT.finditer(norm):
            if m.start() <= index <= m.end():
                a, b = m["a"], m["b"]
                if a in FORMULA_FUNCTIONS:
                    return f"missing parentheses: write {a}({b})", m.start("b")
                a = "(...)" if a == ")" else a
                return f"missing '*' between {a} and {b}: write {a}*{b}", m.start("b")
        if msg.startswith("invalid decimal literal"):
            return "invalid number", index
        if index >= len(norm.rstrip()):
            return "the formula is incomplete", len(norm)
        token = _TOKEN.match(norm, index)
        end = token.end() if token else index + 1
        return f"unexpected {text[origin[index] : origin[end - 1] + 1]!r}", index  # as the user typed it
    return msg.split(" (detected at")[0].removesuffix(". Perhaps you forgot a comma?"), index


def _constant(value: Tensor) -> _Compiled:
    def fn(x: Tensor, y: Tensor) -> Tensor:
        return value if value.device == x.device else value.to(x.device)

    return fn, value


def _apply(op: Callable[..., Tensor], parts: list[_Compiled]) -> _Compiled:
    if all(value is not None for _, value in parts):  # fold constants once, at parse time
        return _constant(op(*(value for _, value in parts)))
    if len(parts) == 1:
        f = parts[0][0]
        return (lambda x, y: op(f(x, y))), None
    f, g = parts[0][0], parts[1][0]
    return (lambda x, y: op(f(x, y), g(x, y))), None


def _promoted(op: Callable[[Tensor, Tensor], Tensor]) -> Callable[[Tensor, Tensor], Tensor]:
    def fn(a: Tensor, b: Tensor) -> Tensor:
        dtype = torch.result_type(a, b)
        return op(a.to(dtype), b.to(dtype))

    return fn


class _Compiler:
    """Walks the parsed tree against the whitelist; ``norm`` is the parsed text, ``origin`` maps it back."""

    def __init__(self, norm: str, origin: list[int]):
        self.norm = norm
        self.origin = origin

    def fail(self, message: str, index: int | None) -> NoReturn:
        raise FormulaError(message, None if index is None else self.origin[min(max(index, 0), len(self.norm))])

    def find(self, symbol: str, start: int, default: int) -> int:
        found = self.norm.find(symbol, start)
        return default if found < 0 else found

    def compile(self, node: ast.AST, depth: int) -> _Compiled:
        col: int | None = getattr(node, "col_offset", None)
        if depth > _MAX_DEPTH:
            self.fail(f"the formula is nested too deeply (more than {_MAX_DEPTH} levels)", col)
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or value is None or value is Ellipsis:
                self.fail(f"{value!r} is not allowed", col)
            if isinstance(value, complex):
                self.fail("complex numbers are not allowed", col)
            if isinstance(value, (str, bytes)):
                self.fail("text in quotes is not allowed", col)
            try:
                number = float(value)
            except OverflowError:  # an integer literal beyond float64's range
                number = math.inf
            return _constant(torch.tensor(number, dtype=torch.float64))
        if isinstance(node, ast.Name):
            if node.id == "x":
                return (lambda x, y: x), None
            if node.id == "y":
                return (lambda x, y: y), None
            if node.id in _CONSTANT_VALUES:
                return _constant(torch.tensor(_CONSTANT_VALUES[node.id], dtype=torch.float64))
            if node.id in FORMULA_FUNCTIONS:
                self.fail(f"{node.id} is a function: write {node.id}(...)", col)
            self.fail(f"unknown name '{node.id}': {_NAMES_HELP}", col)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return _apply(torch.neg, [self.compile(node.operand, depth + 1)])
            if isinstance(node.op, ast.UAdd):
                return self.compile(node.operand, depth + 1)
            self.fail(f"operator '{'~' if isinstance(node.op, ast.Invert) else 'not'}' is not allowed", col)
        if isinstance(node, ast.BinOp):
            return self.compile_chain(node, depth)
        if isinstance(node, ast.Call):
            return self.compile_call(node, depth)
        if isinstance(node, ast.Attribute):
            dot = self.find(".", node.value.end_col_offset or 0, col or 0)
            self.fail(f"attribute access '.{node.attr}' is not allowed", dot)
        if isinstance(node, ast.Tuple):
            if node.elts:
                comma = self.find(",", node.elts[0].end_col_offset or 0, col or 0)
                self.fail("a formula is one expression: ',' only separates a function's arguments", comma)
            self.fail("empty parentheses '()' are not allowed", col)
        what = _REFUSED.get(type(node), f"this kind of expression ({type(node).__name__}) is")
        self.fail(f"{what} not allowed", col)

    def compile_chain(self, node: ast.BinOp, depth: int) -> _Compiled:
        """A binary operation; left-associative chains (a + b - c ...) compile flat, so long sums are not deep."""
        rights: list[tuple[ast.operator, ast.expr]] = []
        left: ast.expr = node
        while isinstance(left, ast.BinOp):  # ((l op1 r1) op2 r2) ... evaluates left to right
            if type(left.op) not in _OPERATORS:
                symbol = _OPERATOR_SYMBOLS.get(type(left.op), type(left.op).__name__)
                at = self.find(symbol, left.left.end_col_offset or 0, left.col_offset)
                self.fail(f"operator '{symbol}' is not allowed", at)
            rights.append((left.op, left.right))
            left = left.left
        parts = [self.compile(left, depth + 1)]
        ops = []
        for op, right in reversed(rights):
            ops.append(_OPERATORS[type(op)])
            parts.append(self.compile(right, depth + 1))
        if len(parts) == 2:
            return _apply(ops[0], parts)
        constants = [value for _, value in parts if value is not None]
        if len(constants) == len(parts):
            acc = constants[0]
            for op_fn, value in zip(ops, constants[1:]):
                acc = op_fn(acc, value)
            return _constant(acc)
        first, steps = parts[0][0], [(op_fn, f) for op_fn, (f, _) in zip(ops, parts[1:])]

        def chain(x: Tensor, y: Tensor) -> Tensor:
            acc = first(x, y)
            for op_fn, f in steps:
                acc = op_fn(acc, f(x, y))
            return acc

        return chain, None

    def compile_call(self, node: ast.Call, depth: int) -> _Compiled:
        func = node.func
        if isinstance(func, ast.Name) and func.id in FORMULA_FUNCTIONS:
            name = func.id
            if node.keywords:
                self.fail(f"keyword arguments are not allowed (in {name})", node.keywords[0].col_offset)
            for arg in node.args:
                if isinstance(arg, ast.Starred):
                    self.fail("'*' unpacking is not allowed", arg.col_offset)
            arity = 1 if name in _UNARY else 2
            if len(node.args) != arity:
                self.fail(
                    f"{name} takes {arity} argument{'s' if arity > 1 else ''}, got {len(node.args)}", node.col_offset
                )
            parts = [self.compile(arg, depth + 1) for arg in node.args]
            return _apply(_UNARY[name] if arity == 1 else _promoted(_BINARY[name]), parts)
        if isinstance(func, ast.Name) and func.id not in ("x", "y", *FORMULA_CONSTANTS):
            self.fail(f"unknown function '{func.id}': {_NAMES_HELP}", func.col_offset)
        self.compile(func, depth + 1)  # refuses what is not allowed in itself, e.g. ().__class__
        operand = self.norm[func.col_offset : func.end_col_offset]
        operand = operand if isinstance(func, (ast.Name, ast.Constant)) else "(...)"
        paren = self.find("(", func.end_col_offset or 0, node.col_offset)
        self.fail(f"missing '*' before '(': write {operand}*(...)", paren)
