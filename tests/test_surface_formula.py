"""User formulas: values against numpy, autograd, operator precedence, errors and safety."""

import ast
import builtins
import pickle
import time
import warnings

import numpy as np
import pytest
import torch

from resnet_viz.surfaces.formula import (
    FORMULA_CONSTANTS,
    FORMULA_FUNCTIONS,
    MAX_FORMULA_LENGTH,
    Formula,
    FormulaError,
    parse_formula,
)

XS = np.linspace(-2.0, 2.0, 41)
YS = np.linspace(-1.5, 2.5, 37)


def grid(dtype=torch.float64):
    return torch.tensor(XS, dtype=dtype)[:, None], torch.tensor(YS, dtype=dtype)[None, :]


def evaluate(text, x, y):
    return parse_formula(text)(torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64))


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


CASES = [
    ("(1-x)^2 + 100*(y-x^2)^2", lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2),
    ("(x^2 + y - 11)^2 + (x + y^2 - 7)^2", lambda x, y: (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2),
    (
        "sin(x)*cos(2*y) + tanh(x*y) - atan(y) + exp(-x^2/2) + tan(x/3)",
        lambda x, y: np.sin(x) * np.cos(2 * y) + np.tanh(x * y) - np.arctan(y) + np.exp(-(x**2) / 2) + np.tan(x / 3),
    ),
    (
        "min(x, y) + max(x, 0.5) + atan2(y, x) + hypot(x, y) + pow(abs(x), 1.5)",
        lambda x, y: np.minimum(x, y) + np.maximum(x, 0.5) + np.arctan2(y, x) + np.hypot(x, y) + np.abs(x) ** 1.5,
    ),
    ("pi*x + e^y - sqrt(pi) / e", lambda x, y: np.pi * x + np.e**y - np.sqrt(np.pi) / np.e),
    (
        "log(1+x^2) + log10(2+y) + log2(3+x) + sigmoid(x) + softplus(y) + relu(x-y)"
        " + sinh(x)/cosh(y) + asin(x/3) + acos(y/3) + arctan(x)",
        lambda x, y: (
            np.log(1 + x**2)
            + np.log10(2 + y)
            + np.log2(3 + x)
            + sigmoid(x)
            + np.log1p(np.exp(y))
            + np.maximum(x - y, 0)
            + np.sinh(x) / np.cosh(y)
            + np.arcsin(x / 3)
            + np.arccos(y / 3)
            + np.arctan(x)
        ),
    ),
    ("1.5e-3*x + 2E2*y + .5 - 3/4*x*y", lambda x, y: 1.5e-3 * x + 2e2 * y + 0.5 - 0.75 * x * y),
    ("x - y - x + 2*y - 3 + x*y/2/y*4", lambda x, y: x - y - x + 2 * y - 3 + x * y / 2 / y * 4),
]


@pytest.mark.parametrize("text, reference", CASES, ids=[c[0][:30] for c in CASES])
def test_values_match_numpy_on_a_grid(text, reference):
    x, y = grid()
    z = parse_formula(text)(x, y)
    assert z.shape == (41, 37) and z.dtype == torch.float64
    np.testing.assert_allclose(z.numpy(), reference(XS[:, None], YS[None, :]), rtol=1e-12, atol=1e-12)


def test_constant_formula_has_the_grid_shape():
    x, y = grid()
    z = parse_formula("2*pi + 1")(x, y)
    assert z.shape == (41, 37) and z.dtype == torch.float64
    np.testing.assert_array_equal(z.numpy(), np.full((41, 37), 2 * np.pi + 1))
    z[0, 0] = 0.0  # a real tensor, not a broadcast view
    assert z[1, 1] == 2 * np.pi + 1


def test_formula_of_x_only_broadcasts_over_y():
    x, y = grid()
    z = parse_formula("x^3 - 2*x")(x, y)
    assert z.shape == (41, 37)
    np.testing.assert_allclose(z.numpy(), np.broadcast_to((XS**3 - 2 * XS)[:, None], (41, 37)), rtol=1e-12)


def test_result_has_the_dtype_of_x():
    x, y = grid(torch.float32)
    z = parse_formula("(1-x)^2 + 100*(y-x^2)^2 + pi")(x, y)
    assert z.dtype == torch.float32
    np.testing.assert_allclose(
        z.numpy(), (1 - XS[:, None]) ** 2 + 100 * (YS[None, :] - XS[:, None] ** 2) ** 2 + np.pi, rtol=1e-5
    )
    assert parse_formula("3")(torch.tensor(1.0), torch.tensor(2.0)).dtype == torch.float32
    assert parse_formula("y")(torch.tensor(1.0), torch.tensor(2.0, dtype=torch.float64)).dtype == torch.float32


def test_rosenbrock_gradient_is_analytic():
    t = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
    f = parse_formula("(1-x)^2 + 100*(y-x^2)^2")(t[0], t[1])
    f.backward()
    x, y = -1.2, 1.0
    assert f.item() == pytest.approx((1 - x) ** 2 + 100 * (y - x**2) ** 2, rel=1e-14)  # 24.2
    np.testing.assert_allclose(t.grad.numpy(), [-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)], rtol=1e-12)
    np.testing.assert_allclose(t.grad.numpy(), [-215.6, -88.0], rtol=1e-12)


def test_two_argument_function_gradients():
    x = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    y = torch.tensor(4.0, dtype=torch.float64, requires_grad=True)
    parse_formula("hypot(x, y) + min(x, y)")(x, y).backward()
    assert x.grad.item() == pytest.approx(3 / 5 + 1) and y.grad.item() == pytest.approx(4 / 5)


def test_constant_formula_backward_gives_zero_gradient():
    t = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    f = parse_formula("7")(t[0], t[1])
    assert f.item() == 7.0
    f.backward()
    assert t.grad.tolist() == [0.0, 0.0]


def test_caret_and_double_star_agree():
    x, y = grid()
    for caret, stars in [
        ("x^2 + y^3", "x**2 + y**3"),
        ("(1-x)^2 + 100*(y-x^2)^2", "(1-x)**2 + 100*(y-x**2)**2"),
        ("2^x^2", "2**x**2"),
        ("x^-2", "x**-2"),
    ]:
        torch.testing.assert_close(parse_formula(caret)(x, y), parse_formula(stars)(x, y), rtol=0, atol=0)


def test_power_precedence():
    x = torch.tensor([-3.0, -0.5, 0.0, 2.0], dtype=torch.float64)
    y = torch.zeros(4, dtype=torch.float64)
    assert parse_formula("x^2+1")(x, y).tolist() == [10.0, 1.25, 1.0, 5.0]  # not x^(2+1)
    assert parse_formula("-x^2")(x, y).tolist() == [-9.0, -0.25, -0.0, -4.0]  # -(x^2)
    assert parse_formula("2^3^2")(x, y).tolist() == [512.0] * 4  # right-associative
    assert parse_formula("2*x^2-1")(x, y).tolist() == [17.0, -0.5, -1.0, 7.0]
    assert parse_formula("2^-1")(x, y).tolist() == [0.5] * 4


def test_unicode_text_equals_ascii():
    x, y = grid()
    ascii_z = parse_formula("(1-x)^2 + 100*(y-x^2)^2")(x, y)
    torch.testing.assert_close(parse_formula("(1−x)² + 100·(y−x²)²")(x, y), ascii_z, rtol=0, atol=0)
    expected = (2 * np.pi * x**3 - x**4 / 3).expand(41, 37)
    torch.testing.assert_close(parse_formula("2×π·x³ − x⁴ ÷ 3")(x, y), expected, rtol=1e-14, atol=0)
    assert parse_formula("(1−x)²").text == "(1−x)²"


def test_long_flat_sums_are_not_too_deep():
    text = "+".join(["x"] * 200)
    assert parse_formula(text)(torch.tensor(1.5), torch.tensor(0.0)).item() == 300.0


def test_formulas_compare_by_text_and_pickle():
    f = parse_formula("sin(x)*y")
    assert f == Formula("sin(x)*y") and hash(f) == hash(Formula("sin(x)*y")) and f != parse_formula("y*sin(x)")
    g = pickle.loads(pickle.dumps(f))
    x, y = grid()
    torch.testing.assert_close(g(x, y), f(x, y), rtol=0, atol=0)


def test_public_names():
    assert FORMULA_CONSTANTS == ("pi", "e")
    assert {"sin", "atan2", "hypot", "softplus", "arctan", "log10"} <= set(FORMULA_FUNCTIONS)
    assert not {"sign", "floor", "ceil", "eval", "exec"} & set(FORMULA_FUNCTIONS)


def test_overflow_gives_inf_quickly():
    start = time.perf_counter()
    for text in ["9**9**9", "10^400", "1" + "0" * 400, "x*10^400"]:
        z = evaluate(text, [1.0, 2.0], [0.0, 0.0])
        assert torch.isinf(z).all() and (z > 0).all(), text
    assert time.perf_counter() - start < 1.0


def test_non_finite_values_are_allowed():
    z = evaluate("log(x) + sqrt(y)", [-1.0, 1.0, 0.0], [1.0, 4.0, 1.0])
    assert torch.isnan(z[0]) and z[1].item() == 2.0 and z[2].item() == -np.inf
    assert torch.isnan(evaluate("0/0 + x", [1.0], [1.0])).all()


def error(text) -> FormulaError:
    with pytest.raises(FormulaError) as info:
        parse_formula(text)
    return info.value


@pytest.mark.parametrize(
    "text, column, fragment",
    [
        ("x + z", 4, "unknown name 'z': use x, y, pi, e and the functions sin, cos"),
        ("  x + z", 6, "unknown name 'z'"),
        ("(1−x)² + 100·(y−z²)²", 16, "unknown name 'z'"),  # columns point into the user's text
        ("x + f(x)", 4, "unknown function 'f'"),
        ("sin(x, y)", 0, "sin takes 1 argument, got 2"),
        ("x + atan2(x)", 4, "atan2 takes 2 arguments, got 1"),
        ("2x + 1", 1, "write 2*x"),
        ("y + 3 x", 6, "write 3*x"),
        ("2pi", 1, "write 2*pi"),
        ("2(x+1)", 1, "write 2*(...)"),
        ("sin x", 4, "write sin(x)"),
        ("x + ", 4, "incomplete"),
        ("(x + 1", 0, "'(' was never closed"),
        ("x $ y", 2, "unexpected '$'"),
        ("x^^2", 2, "unexpected '^'"),
        ("x.real", 1, "attribute access '.real'"),
        ("x % 2", 2, "operator '%'"),
        ("x // 2", 2, "operator '//'"),
        ("x @ y", 2, "operator '@'"),
        ("x & y", 2, "operator '&'"),
        ("x, y", 1, "one expression"),
        ("sin(x=1)", 4, "keyword arguments"),
        ("sin(*x)", 4, "unpacking"),
        ("x + ä", 4, "unexpected character 'ä'"),
        ("x # comment", 2, "unexpected character '#'"),
        ("x + sin", 4, "sin is a function"),
        ("1j*x", 0, "complex numbers"),
    ],
)
def test_errors_name_what_and_where(text, column, fragment):
    err = error(text)
    assert fragment in err.message
    assert err.column == column
    assert str(err) == f"column {column + 1}: {err.message}"


def test_empty_and_too_long():
    for text in ["", "   ", "\n\t"]:
        err = error(text)
        assert err.column is None and str(err) == "type a formula in x and y, e.g. (1-x)^2 + 100*(y-x^2)^2"
    long_ok = "x" + "+x" * ((MAX_FORMULA_LENGTH - 1) // 2)
    assert len(long_ok) <= MAX_FORMULA_LENGTH and parse_formula(long_ok)
    assert "too long" in error("x" + "+x" * (MAX_FORMULA_LENGTH // 2)).message


@pytest.mark.parametrize(
    "text",
    [
        "(" * 200 + "x" + ")" * 200,
        "(" * 250 + "x" + ")" * 250,
        "-" * 400 + "x",
        "-" * 1000 + "x",
        "x^" * 100 + "x",
        "exp(-" * 61 + "x" + ")" * 61,
        "sin(" * 70 + "x" + ")" * 70,
        "[" * 240 + "x" + "]" * 240,
    ],
)
def test_deep_nesting_is_refused(text):
    # a FormulaError, not a RecursionError or MemoryError
    assert "nested" in error(text).message or len(text) > MAX_FORMULA_LENGTH


def test_moderate_nesting_is_fine():
    assert parse_formula("(" * 50 + "-" * 20 + "x" + ")" * 50)(torch.tensor(2.0), torch.tensor(0.0)).item() == 2.0


UNSAFE = [
    "__import__('os').system('touch {sentinel}')",
    "().__class__.__bases__",
    "().__class__.__bases__[0].__subclasses__()",
    "x.real",
    "lambda: 1",
    "[x]",
    "'a'",
    "b'a'",
    "x if y else 1",
    "x < y",
    "x and y",
    "f(x)",
    "open('{sentinel}', 'w')",
    "eval('1')",
    "sin.__globals__",
    "(lambda: __import__('os'))()",
    "[i for i in (1, 2)]",
    "{x: y}",
    "{x}",
    "f'{x}'",
    "(z := 1)",
    "x[0]",
    "~x",
    "not x",
    "None",
    "True + x",
    "...",
    "sin(x)(y)",
    "(x)(y)",
]


@pytest.mark.parametrize("template", UNSAFE)
def test_unsafe_input_is_refused_and_never_runs(template, tmp_path, capfd, monkeypatch):
    sentinel = tmp_path / "pwned"
    compiled = []

    def only_ast_compile(source, filename, mode, flags=0, *args, **kwargs):
        compiled.append(flags)
        assert flags & ast_only, "user text compiled to code"
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec called")

    ast_only = ast.PyCF_ONLY_AST
    real_compile = builtins.compile
    monkeypatch.setattr(builtins, "compile", only_ast_compile)
    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    with pytest.raises(FormulaError):
        parse_formula(template.replace("{sentinel}", str(sentinel)))
    monkeypatch.undo()
    assert not sentinel.exists()
    assert "hi" not in capfd.readouterr().out


def test_valid_formulas_are_only_parsed_to_an_ast(monkeypatch):
    flags = []
    real_compile = builtins.compile

    def recording_compile(source, filename, mode, fl=0, *args, **kwargs):
        flags.append(fl)
        return real_compile(source, filename, mode, fl, *args, **kwargs)

    monkeypatch.setattr(builtins, "compile", recording_compile)
    parse_formula("sin(x) + y^2")
    monkeypatch.undo()
    assert flags and all(fl & ast.PyCF_ONLY_AST for fl in flags)


def test_syntax_warnings_do_not_leak():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(FormulaError):
            parse_formula("1if x else 2")  # Python warns "invalid decimal literal" while parsing this
        with pytest.raises(FormulaError):
            parse_formula("2(x+1)")
    assert caught == []
