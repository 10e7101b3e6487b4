// The tiny expression language of programs (pagemind.gpu.kernels.evaluate): numbers,
// names, + - * / with parentheses, and ceil(). Parsed once into closures at load, never
// run through eval, so a site's Content-Security-Policy may forbid eval.

const TOKEN = /\s*(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|[A-Za-z_]\w*|[-+*/()])/y;

function tokenize(text) {
  const tokens = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.trimEnd().length) {
    const match = TOKEN.exec(text);
    if (!match) throw new Error(`cannot read the expression "${text}"`);
    tokens.push(match[1]);
  }
  return tokens;
}

// Returns (variables) => number; a plain number compiles to a constant.
export function compileExpression(source) {
  if (typeof source === "number") return () => source;
  const tokens = tokenize(source);
  let at = 0;
  const peek = () => tokens[at];
  const take = (expected) => {
    const token = tokens[at++];
    if (expected && token !== expected) throw new Error(`expected "${expected}" in "${source}"`);
    return token;
  };
  const binary = (operand, operators) => () => {
    let left = operand();
    while (operators[peek()]) {
      const apply = operators[take()];
      const [a, b] = [left, operand()];
      left = (vars) => apply(a(vars), b(vars));
    }
    return left;
  };
  const primary = () => {
    const token = take();
    if (token === "(") {
      const inner = sum();
      take(")");
      return inner;
    }
    if (token === "-") {
      const operand = primary();
      return (vars) => -operand(vars);
    }
    if (token === "ceil") {
      take("(");
      const inner = sum();
      take(")");
      return (vars) => Math.ceil(inner(vars));
    }
    if (/^\d/.test(token)) {
      const value = Number(token);
      return () => value;
    }
    if (token === undefined || !/^[A-Za-z_]/.test(token)) {
      throw new Error(`unexpected "${token}" in "${source}"`);
    }
    return (vars) => {
      if (!(token in vars)) throw new Error(`"${source}" needs the variable ${token}`);
      return vars[token];
    };
  };
  const product = binary(primary, { "*": (a, b) => a * b, "/": (a, b) => a / b });
  const sum = binary(product, { "+": (a, b) => a + b, "-": (a, b) => a - b });
  const compiled = sum();
  if (at !== tokens.length) throw new Error(`unexpected "${peek()}" in "${source}"`);
  return compiled;
}
