"""``cnnlab arith conv|rf|cost``: layer arithmetic as tables, each with the formula it used."""

from __future__ import annotations

import typer
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from cnnlab import arith
from cnnlab.arith.checks import require_range
from cnnlab.cli.config_errors import reports_config_errors
from cnnlab.errors import ConfigError

__all__ = ["register", "arith_app", "arith_tour"]

arith_app = typer.Typer(
    name="arith",
    help="Layer arithmetic: output sizes, receptive fields and costs, with their formulas.",
    no_args_is_help=True,
)



def register(app: typer.Typer) -> None:
    """Add the ``arith`` command group to the ``cnnlab`` app."""
    app.add_typer(arith_app, name="arith")


def _num(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:.6g}"


# ---------------------------------------------------------------- tables (shared with the tour)


def conv_table(
    n: int, k: int, p: int, s: int, d: int, ceil: bool = False, transposed: bool = False,
    output_padding: int = 0, pool: bool = False,
) -> Table:
    """Effective kernel and output size of one conv / pool / transposed conv, formula beside value."""
    k_eff = arith.effective_kernel(k, d)
    if transposed:
        out = arith.transposed_conv_output_size(n, k, p, s, d, output_padding)
        title = "transposed convolution"
        formula = "(n - 1)·s - 2p + d·(k - 1) + output_padding + 1"
        filled = f"({n} - 1)·{s} - 2·{p} + {d}·({k} - 1) + {output_padding} + 1"
    else:
        size = arith.pool_output_size if pool else arith.conv_output_size
        out = size(n, k, s=s, p=p, d=d, ceil_mode=ceil)
        title = ("pooling" if pool else "convolution") + (" (ceil mode)" if ceil else "")
        rounding = "ceil" if ceil else "floor"
        formula = f"{rounding}((n + 2p - k_eff) / s) + 1"
        filled = f"{rounding}(({n} + 2·{p} - {k_eff}) / {s}) + 1"
        if ceil:
            formula += ", minus 1 if the last window would start in the right padding"
    table = Table(title=f"{title}: n={n} k={k} p={p} s={s} d={d}")
    table.add_column("quantity")
    table.add_column("formula, then with the values")
    table.add_column("value", justify="right")
    table.add_row("effective kernel", f"k + (k - 1)·(d - 1)\n= {k} + ({k} - 1)·({d} - 1)", str(k_eff))
    table.add_row("output size", f"{formula}\n= {filled}", str(out))
    return table


RF_FORMULAS = "\n".join((
    "n_out     = floor((n_in + 2p - k_eff)/s) + 1",
    "j_out     = j_in·s",
    "r_out     = r_in + (k_eff - 1)·j_in",
    "start_out = start_in + ((k_eff - 1)/2 - p)·j_in",
    "centre of feature i = start + i·j;  k_eff = k + (k - 1)(d - 1)",
    "deconv and up layers divide the jump by their factor; their features differ: r_min..r (docs/arithmetic.md)",
))


def rf_table(layers: list[arith.Layer], n: int, r0: float = 1, j0: float = 1, start0: float = 0.5) -> Group:
    """The receptive-field recurrence, one row per feature map, with the recurrence below it."""
    rows = arith.receptive_field(layers, n, r0=r0, j0=j0, start0=start0)
    table = Table(title="receptive field along one axis")
    table.add_column("layer")
    table.add_column("spec")
    for column in ("n", "j", "r", "r_min", "start"):
        table.add_column(column, justify="right")
    specs = ["input"] + [arith.format_layer(layer) for layer in layers]
    for row, spec in zip(rows, specs, strict=True):
        table.add_row(row.name, spec, *(_num(v) for v in (row.n, row.j, row.r, row.r_min, row.start)))
    return Group(table, Text(RF_FORMULAS, style="dim"))


def cost_table(dk: int, m: int, n: int, df: int, groups: int = 1) -> Group:
    """MACs and params of a standard (and grouped) conv against a depthwise-separable one."""
    standard = arith.conv_macs(dk, m, n, df)
    separable = arith.depthwise_separable_macs(dk, m, n, df)
    table = Table(title=f"conv cost: Dk={dk} M={m} N={n} Df={df} (Df = output size)")
    for column, justify in (("layer", "left"), ("MACs formula", "left"), ("MACs", "right"), ("params", "right")):
        table.add_column(column, justify=justify)
    table.add_row("standard conv", "Dk·Dk·M·N·Df·Df", _num(standard), _num(arith.conv_params(dk, m, n)))
    if groups > 1:
        table.add_row(
            f"grouped conv (g={groups})", "Dk·Dk·(M/g)·N·Df·Df",
            _num(arith.grouped_conv_macs(dk, m, n, df, groups)), _num(arith.grouped_conv_params(dk, m, n, groups)),
        )
    table.add_row(
        "depthwise separable", "Dk·Dk·M·Df·Df + M·N·Df·Df",
        _num(separable), _num(arith.depthwise_separable_params(dk, m, n)),
    )
    ratio = Text(
        f"separable / standard = 1/N + 1/Dk² = 1/{n} + 1/{dk}² = {arith.separable_cost_ratio(dk, n):.5f}"
        f"  (from the MACs above: {separable / standard:.5f})"
    )
    return Group(table, ratio)


# ---------------------------------------------------------------- commands


@arith_app.command("conv")
@reports_config_errors
def conv_command(
    n: int = typer.Option(..., "--n", help="input size along one axis"),
    k: int = typer.Option(3, "--k", help="kernel size"),
    p: int = typer.Option(0, "--p", help="padding (each side)"),
    s: int = typer.Option(1, "--s", help="stride"),
    d: int = typer.Option(1, "--d", help="dilation"),
    ceil: bool = typer.Option(False, "--ceil", help="ceil mode (as in pooling layers)"),
    pool: bool = typer.Option(False, "--pool", help="pooling rules: padding at most half the kernel"),
    transposed: bool = typer.Option(False, "--transposed", help="transposed convolution"),
    output_padding: int = typer.Option(0, "--output-padding", help="output padding (transposed only)"),
) -> None:
    """Output size of a convolution, pooling or transposed convolution."""
    if ceil and transposed:
        raise ConfigError("arith conv: --ceil and --transposed cannot be combined")
    if output_padding and not transposed:
        raise ConfigError("arith conv: --output-padding needs --transposed")
    Console().print(conv_table(n, k, p, s, d, ceil, transposed, output_padding, pool))


@arith_app.command("rf")
@reports_config_errors
def rf_command(
    spec: str = typer.Argument(..., help='layers, e.g. "conv k3 s2 p1, pool k2 s2, conv k3 d2"'),
    n: int = typer.Option(..., "--n", help="input size along one axis"),
    r0: float = typer.Option(1, "--r0", help="receptive field of an input pixel"),
    j0: float = typer.Option(1, "--j0", help="jump of the input grid"),
    start0: float = typer.Option(0.5, "--start0", help="centre of the first input pixel"),
) -> None:
    """Receptive-field table (n, j, r, start) along a chain of layers."""
    for option, value in (("--r0", r0), ("--j0", j0), ("--start0", start0)):
        require_range(option, value, where="arith rf")  # a finite number: the table is exact fractions
    Console().print(rf_table(arith.parse_layers(spec), n, r0, j0, start0))


@arith_app.command("cost")
@reports_config_errors
def cost_command(
    dk: int = typer.Option(3, "--dk", help="kernel size Dk"),
    m: int = typer.Option(..., "--m", help="input channels M"),
    n: int = typer.Option(..., "--n", help="output channels N"),
    df: int = typer.Option(..., "--df", help="output feature-map size Df"),
    groups: int = typer.Option(1, "--groups", help="also show a grouped conv with this many groups"),
) -> None:
    """MACs and params: standard vs depthwise-separable convolution (MobileNet v1)."""
    Console().print(cost_table(dk, m, n, df, groups))


# ---------------------------------------------------------------- the lecture's worked examples


def arith_tour(console: Console) -> None:
    """Print the lecture's worked examples: RF table, dilated conv, MobileNet ratio, upsampling."""
    console.rule("[bold]Receptive field[/]: 5x5 input, two convs k=3 p=1 s=2")
    console.print(rf_table(arith.parse_layers("conv k3 s2 p1, conv k3 s2 p1"), n=5))
    console.rule("[bold]Dilated convolution[/]: 7x7 input, k=3 p=0 s=1 d=2")
    console.print(conv_table(7, 3, 0, 1, 2))
    console.print("(the lecture's F' = (F - 1)(d - 1) counts only the holes; the extent is F + (F - 1)(d - 1))")
    console.rule("[bold]MobileNet v1[/]: depthwise separable vs standard conv")
    console.print(cost_table(3, 32, 64, 112))
    console.rule("[bold]Upsampling[/]: \\[[1, 2], [3, 4]] x2, align_corners=False")
    for mode in ("nearest", "bilinear"):
        console.print(_upsample_table(mode))


def _upsample_table(mode: str) -> Table:
    import torch  # the upsampling example runs the real unit

    from cnnlab.units import upsample

    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    y = upsample(x, scale_factor=2, mode=mode, align_corners=False)[0, 0]
    table = Table(title=f"{mode} → 4x4", show_header=False)
    for _ in range(y.shape[1]):
        table.add_column(justify="right")
    for row in y.tolist():
        table.add_row(*(f"{v:.2f}" for v in row))
    return table
