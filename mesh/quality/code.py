"""Finding a product's code: its transformation function and its pandera model.

By convention the function is ``assets/<domain>/<product>.py:<product>`` and the model is
``checks/<domain>/<product>.py:<CamelCaseProduct>``; a contract may point elsewhere with
``function: module:name`` / ``schema: module:Name``. Import failures and missing names become one
message naming the contract, the field and what was expected. Does not call the code.
"""

from __future__ import annotations

import importlib
import inspect
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandera.pandas as pa

from mesh.contracts.project import ensure_importable
from mesh.contracts.registry import Mesh, Product
from mesh.errors import ContractError
from mesh.quality.rules import Schema, UnsupportedFeature, schema_from_model


@dataclass(frozen=True)
class ProductCode:
    function: Callable[..., Any]
    schema: Schema
    model: type[pa.DataFrameModel]


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _import(product: Product, field: str, reference: str) -> Any:
    module_name, _, attribute = reference.partition(":")
    path = module_name.replace(".", "/") + ".py"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and module_name.startswith(err.name):
            raise ContractError(product.file, [(field, f"expected {path} to exist, found no such module")]) from None
        raise ContractError(product.file, [(field, f"{path} failed to import: {_last_line(err)}")]) from None
    except Exception as err:
        raise ContractError(product.file, [(field, f"{path} failed to import: {_last_line(err)}")]) from None
    if not hasattr(module, attribute):
        raise ContractError(product.file, [(field, f"expected {attribute!r} in {path}, found no such name")])
    return getattr(module, attribute)


def _last_line(err: BaseException) -> str:
    if isinstance(err, SyntaxError):
        return f"SyntaxError: {err.msg} ({err.filename}, line {err.lineno})"
    frames = [f for f in traceback.extract_tb(err.__traceback__) if "importlib" not in f.filename]
    where = f" ({frames[-1].filename}, line {frames[-1].lineno})" if frames else ""
    return f"{type(err).__name__}: {err}{where}"


def resolve(product: Product, project: Any) -> ProductCode:
    ensure_importable(project)
    domain, name = product.address.domain, product.address.product
    contract = product.contract
    function = _import(product, "function", contract.function or f"assets.{domain}.{name}:{name}")
    if not callable(function) or inspect.isclass(function):
        raise ContractError(product.file, [("function", f"expected a function, found {type(function).__name__}")])
    model = _import(product, "schema", contract.schema_ or f"checks.{domain}.{name}:{camel(name)}")
    if not (inspect.isclass(model) and issubclass(model, pa.DataFrameModel)):
        raise ContractError(product.file, [("schema", f"expected a pandera DataFrameModel, found {model!r}")])
    try:
        schema = schema_from_model(model, contract.primary_key)
    except UnsupportedFeature as err:
        raise ContractError(product.file, [("schema", str(err))]) from None
    except Exception as err:
        raise ContractError(product.file, [("schema", f"{model.__name__} does not build: {err}")]) from None
    _check_against_schema(product, schema, function)
    return ProductCode(function, schema, model)


def _check_against_schema(product: Product, schema: Schema, function: Callable[..., Any]) -> None:
    contract = product.contract
    columns = set(schema.column_names)
    problems = []
    for column in contract.primary_key:
        if column not in columns:
            problems.append(("primary_key", f"expected a column of {schema.model_name}, found {column!r}"))
    for column in contract.pii:
        if column not in columns:
            problems.append((f"pii.{column}", f"expected a column of {schema.model_name}"))
    if contract.partitioning and contract.partitioning.column not in columns:
        problems.append(("partitioning.column", f"expected a column of {schema.model_name}, "
                         f"found {contract.partitioning.column!r}"))
    elif contract.partitioning and schema.column(contract.partitioning.column).type_name not in ("date", "timestamp"):
        problems.append(("partitioning.column", "expected a date or timestamp column"))
    chart = contract.presentation.chart if contract.presentation else None
    for field_name in ("x", "y") if chart else ():
        if getattr(chart, field_name) not in columns:
            problems.append((f"presentation.chart.{field_name}", f"expected a column of {schema.model_name}, "
                             f"found {getattr(chart, field_name)!r}"))
    parameters = inspect.signature(function).parameters
    allowed = set(contract.inputs) | set(contract.sources) | {"window", "params"}
    for name, parameter in parameters.items():
        if parameter.kind in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL):
            continue
        if name not in allowed and parameter.default is parameter.empty:
            problems.append(("function", f"parameter {name!r} of {function.__name__} names no input or source "
                             f"(expected one of {sorted(allowed)})"))
    taken = (set(contract.inputs) | set(contract.sources)) - contract.relation_inputs  # rules may read the rest
    missing = [n for n in taken if n not in parameters]
    if missing and not any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
        problems.append(("function", f"{function.__name__} takes no parameter for inputs {sorted(missing)}"))
    if problems:
        raise ContractError(product.file, problems)


def model_schema(product: Product, mesh: Mesh) -> Schema:
    """The product's schema from its pandera model alone (``resolve`` also loads and checks its function,
    which the catalog does not need)."""
    ensure_importable(mesh.root)
    domain, name = product.address.domain, product.address.product
    model = _import(product, "schema", product.contract.schema_ or f"checks.{domain}.{name}:{camel(name)}")
    try:
        return schema_from_model(model, product.contract.primary_key)
    except Exception as err:  # not a model, or one the mesh refuses (`mesh lint` says why): no columns to list
        raise ContractError(product.file, [("schema", f"{getattr(model, '__name__', model)} does not build: {err}")]
                            ) from None
