#!/usr/bin/env python3
"""Checks of the Swift package that need no Swift compiler (run by scripts/test-swift.sh).

  check_swift.py syntax BASELINE FILE...
      Parses every FILE with tree-sitter-swift. Two valid constructs that the grammar mis-parses
      (`@_documentation(visibility: private)` and `{ () }`, both in uniffi's output) are blanked
      first, keeping offsets. Every remaining error node must be listed in BASELINE (known false
      positives, one `path<TAB>text` line each); anything new fails. A self-test first checks
      that injected syntax errors are caught, so a grammar that accepts everything cannot pass.

  check_swift.py names GENERATED FILE...
      The hand-written FILEs may use only names that exist: every identifier they use must be
      declared in the generated Swift (GENERATED), declared in the hand-written files themselves,
      or be a platform (Swift, Foundation, Security, CryptoKit, Network, XCTest) name listed in
      scripts/swift/platform-names.txt. Also: every hand-written type adopting a generated
      protocol implements each of its requirements (name and argument labels), every call of a
      generated type's initializer fits one of its public initializers (labels in order, only
      defaulted ones left out), and `ClientConfig.withFreshInstall` copies every field of the
      generated `ClientConfig`.

Grammar only: no types are checked, which is what a Swift compiler on macOS is for.
"""

import pathlib
import sys

import tree_sitter
import tree_sitter_swift

PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_swift.language()))
FALSE_POSITIVES = [b"@_documentation(visibility: private)", b"{ () }"]
HERE = pathlib.Path(__file__).resolve().parent


def normalise(source: bytes) -> bytes:
    """Blanks the constructs the grammar mis-parses, keeping every offset and line."""
    for construct in FALSE_POSITIVES:
        blank = b"{ " + b" " * (len(construct) - 3) + b"}" if construct.startswith(b"{") else b" " * len(construct)
        source = source.replace(construct, blank)
    return source


def parse(source: bytes):
    return PARSER.parse(normalise(source))


def error_nodes(tree):
    found = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            found.append(node)
            continue
        if node.has_error:
            stack.extend(node.children)
    return sorted(found, key=lambda n: n.start_byte)


def error_key(path: str, source: bytes, node) -> str:
    text = normalise(source)[node.start_byte : node.end_byte][:60].decode("utf-8", "replace")
    kind = "missing " + node.type if node.is_missing else "error"
    return f"{path}\t{kind}: {' '.join(text.split())}"


def self_test(sample: bytes) -> int:
    """Injects syntax errors into a valid file; each must produce an error node."""
    injections = [
        sample.rstrip().rstrip(b"}"),  # a missing closing brace
        sample + b"\nfunc broken( {\n",  # an unclosed parameter list
        sample + b"\nlet x = (1, 2\n",  # an unclosed tuple
        sample.replace(b"{", b"(", 1),  # a brace become a parenthesis
        sample + b"\nfunc f() -> { }\n",  # a return arrow without a type
    ]
    for number, source in enumerate(injections, 1):
        if not error_nodes(parse(source)):
            sys.exit(f"swift syntax: self-test failed: injected error {number} was not caught")
    return len(injections)


def syntax(baseline_path: str, files: list[str]) -> None:
    baseline_file = pathlib.Path(baseline_path)
    baseline = {
        line
        for line in baseline_file.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    injected = self_test(pathlib.Path(files[-1]).read_bytes())
    seen, new, lines = set(), [], 0
    for path in files:
        source = pathlib.Path(path).read_bytes()
        lines += source.count(b"\n")
        for node in error_nodes(parse(source)):
            key = error_key(path, source, node)
            seen.add(key)
            if key not in baseline:
                new.append(f"{path}:{node.start_point[0] + 1}:{node.start_point[1] + 1}: {key.split(chr(9), 1)[1]}")
    for line in new:
        print(f"swift syntax: {line}", file=sys.stderr)
    stale = baseline - seen
    for line in sorted(stale):
        print(f"swift syntax: note: baseline entry no longer seen (remove it): {line}", file=sys.stderr)
    known = len(seen & baseline)
    print(
        f"swift syntax: {len(files)} files, {lines} lines parsed; {len(new)} new errors, "
        f"{known} known false positives ({baseline_file.name}); self-test caught {injected}/{injected} injected errors"
    )
    if new:
        sys.exit(1)


# ---------------------------------------------------------------------------------------------
# names

IDENTIFIERS = ("simple_identifier", "type_identifier")


def walk(node):
    stack = [node]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


def field_of(node):
    parent = node.parent
    if parent is None:
        return None
    for index, child in enumerate(parent.children):
        if child.id == node.id:
            return parent.field_name_for_child(index)
    return None


def text(node) -> str:
    return node.text.decode()


def is_declaration(node) -> bool:
    parent, field = node.parent, field_of(node)
    if parent.type in ("function_declaration", "protocol_function_declaration", "class_declaration",
                       "protocol_declaration", "typealias_declaration", "enum_entry",
                       "lambda_parameter", "capture_list_item") and field == "name":
        return True
    if field == "bound_identifier":
        return True
    if parent.type == "parameter" and (field == "external_name" or (field == "name" and node.type == "simple_identifier")):
        return True
    if parent.type == "pattern" and field is None and node.type == "simple_identifier":
        # `case .x(let value)` bindings, tuple patterns.
        return True
    return False


def inside_import(node) -> bool:
    """In an import, or in an `@objc(selector:pieces:)` attribute, whose words are Objective-C
    selector pieces, not Swift names."""
    while node is not None:
        if node.type == "import_declaration":
            return True
        if node.type == "attribute" and node.text.startswith(b"@objc"):
            return True
        node = node.parent
    return False


def identifiers(tree):
    used, declared = set(), set()
    for node in walk(tree.root_node):
        if node.type not in IDENTIFIERS or inside_import(node):
            continue
        (declared if is_declaration(node) else used).add(text(node))
    return used, declared


def labels(parameters) -> tuple:
    result = []
    for parameter in parameters:
        external = parameter.child_by_field_name("external_name")
        if external is not None:
            result.append(text(external))
            continue
        name = next((c for c in parameter.children if c.type == "simple_identifier"), None)
        result.append(text(name) if name is not None else "_")
    return tuple(result)


def protocol_requirements(tree) -> dict:
    """Generated protocols: name -> {(method, labels)}."""
    protocols = {}
    for node in walk(tree.root_node):
        if node.type != "protocol_declaration":
            continue
        name = text(node.child_by_field_name("name"))
        body = node.child_by_field_name("body")
        requirements = set()
        for member in body.children if body is not None else []:
            if member.type == "protocol_function_declaration":
                params = [c for c in member.children if c.type == "parameter"]
                requirements.add((text(member.child_by_field_name("name")), labels(params)))
        protocols[name] = requirements
    return protocols


def adopted_protocols(node) -> list:
    names = []
    for child in node.children:
        if child.type == "inheritance_specifier":
            target = child.child_by_field_name("inherits_from")
            if target is not None:
                names.append(text(target).split(".")[-1])
    return names


def implemented_methods(node) -> set:
    body = node.child_by_field_name("body")
    methods = set()
    for member in body.children if body is not None else []:
        if member.type == "function_declaration":
            params = [c for c in member.children if c.type == "parameter"]
            methods.add((text(member.child_by_field_name("name")), labels(params)))
    return methods


def struct_fields(tree, struct_name: str) -> list:
    for node in walk(tree.root_node):
        if node.type == "class_declaration" and text(node.child_by_field_name("name")) == struct_name:
            body = node.child_by_field_name("body")
            fields = []
            for member in body.children:
                if member.type == "property_declaration":
                    pattern = member.child_by_field_name("name")
                    bound = pattern.child_by_field_name("bound_identifier") if pattern is not None else None
                    if bound is not None:
                        fields.append(text(bound))
            return fields
    return []


def public_inits(tree) -> dict:
    """Generated types: name -> [[(label, has_default)]], one list per public initializer."""
    inits = {}
    for node in walk(tree.root_node):
        if node.type != "class_declaration":
            continue
        name_node = node.child_by_field_name("name")
        body = node.child_by_field_name("body")
        if name_node is None or name_node.type != "type_identifier" or body is None:
            continue
        for member in body.children:
            if member.type != "init_declaration" or b"public" not in (member.text.split(b"(", 1)[0]):
                continue
            params = []
            for index, child in enumerate(member.children):
                if child.type == "parameter":
                    params.append([labels([child])[0], False])
                elif member.field_name_for_child(index) == "default_value" and params:
                    params[-1][1] = True
            inits.setdefault(text(name_node), []).append([tuple(p) for p in params])
    return inits


def public_functions(tree) -> dict:
    """Generated top-level functions: name -> [[(label, has_default)]], as public_inits."""
    functions = {}
    for node in tree.root_node.children:
        if node.type != "function_declaration" or not node.text.startswith(b"public"):
            continue
        params = []
        for index, child in enumerate(node.children):
            if child.type == "parameter":
                params.append([labels([child])[0], False])
            elif node.field_name_for_child(index) == "default_value" and params:
                params[-1][1] = True
        name = text(node.child_by_field_name("name"))
        functions.setdefault(name, []).append([tuple(p) for p in params])
    return functions


def call_labels(call) -> list:
    suffix = next((c for c in call.children if c.type == "call_suffix"), None)
    arguments = next((c for c in suffix.children if c.type == "value_arguments"), None) if suffix else None
    result = []
    for argument in arguments.children if arguments is not None else []:
        if argument.type == "value_argument":
            label = argument.child_by_field_name("name")
            result.append(text(label).rstrip(":").strip() if label is not None else "_")
    return result


def fits(arguments: list, params: list) -> bool:
    """Swift's rule for labelled arguments: in order, skipping only defaulted parameters."""
    position = 0
    for label, has_default in params:
        if position < len(arguments) and arguments[position] == label:
            position += 1
        elif not has_default:
            return False
    return position == len(arguments)


def names(generated_path: str, files: list[str]) -> None:
    generated_tree = parse(pathlib.Path(generated_path).read_bytes())
    generated_used, generated_declared = identifiers(generated_tree)
    generated = generated_used | generated_declared
    platform = {
        line.split("#", 1)[0].strip()
        for line in (HERE / "platform-names.txt").read_text().splitlines()
    } - {""}
    problems, api_names, conformances, total = [], set(), 0, 0
    requirements = protocol_requirements(generated_tree)
    trees = {path: parse(pathlib.Path(path).read_bytes()) for path in files}
    declared_here = set()
    for tree in trees.values():
        declared_here |= identifiers(tree)[1]
    for path, tree in trees.items():
        used, _ = identifiers(tree)
        total += len(used)
        for name in sorted(used):
            if name in generated:
                api_names.add(name)
            elif name not in declared_here and name not in platform:
                problems.append(
                    f"{path}: `{name}` is not in the generated Swift, not declared in the hand-written "
                    f"Swift and not a known platform name (a renamed API? else add it to scripts/swift/platform-names.txt)"
                )
        for node in walk(tree.root_node):
            if node.type != "class_declaration":
                continue
            methods = implemented_methods(node)
            for protocol in adopted_protocols(node):
                if protocol not in requirements:
                    continue
                conformances += 1
                for method, method_labels in sorted(requirements[protocol]):
                    if (method, method_labels) not in methods:
                        signature = f"{method}({''.join(label + ':' for label in method_labels)})"
                        problems.append(
                            f"{path}: {text(node.child_by_field_name('name'))} adopts {protocol} "
                            f"but does not implement {signature}"
                        )
    inits = public_inits(generated_tree)
    # Free functions (bridgeSessionJson(session:), setLogger(logger:level:), ...) are checked
    # like initializers; a hand-written declaration of the same name shadows the generated one.
    inits.update({name: overloads for name, overloads in public_functions(generated_tree).items()
                  if name not in declared_here and name not in inits})
    init_calls = 0
    for path, tree in trees.items():
        for node in walk(tree.root_node):
            if node.type != "call_expression" or node.children[0].type != "simple_identifier":
                continue
            callee = text(node.children[0])
            if callee not in inits or not any(c.type == "call_suffix" for c in node.children):
                continue
            arguments = call_labels(node)
            init_calls += 1
            if not any(fits(arguments, params) for params in inits[callee]):
                signatures = ["(" + "".join(label + ":" for label, _ in params) + ")" for params in inits[callee]]
                problems.append(
                    f"{path}:{node.start_point[0] + 1}: {callee}({''.join(a + ':' for a in arguments)}) "
                    f"matches no generated initializer or function {' '.join(signatures)}"
                )
    fields = struct_fields(generated_tree, "ClientConfig")
    copied = 0
    for path, tree in trees.items():
        source = pathlib.Path(path).read_text()
        if "func withFreshInstall" in source:
            body = source.split("func withFreshInstall", 1)[1].split("\n    }\n", 1)[0]
            for field in fields:
                if f"{field}:" not in body:
                    problems.append(f"{path}: withFreshInstall does not copy ClientConfig.{field}")
                else:
                    copied += 1
    if not fields:
        problems.append("ClientConfig not found in the generated Swift")
    for problem in problems:
        print(f"swift names: {problem}", file=sys.stderr)
    print(
        f"swift names: {len(files)} hand-written files, {total} name uses (distinct per file), "
        f"{len(api_names)} distinct generated-API names, all found: {'no' if problems else 'yes'}; "
        f"{conformances} conformances to generated protocols checked; "
        f"{init_calls} calls of generated initializers and functions match their labels; "
        f"ClientConfig fields copied {copied}/{len(fields)}"
    )
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[1] not in ("syntax", "names"):
        sys.exit(__doc__)
    {"syntax": syntax, "names": names}[sys.argv[1]](sys.argv[2], sys.argv[3:])
