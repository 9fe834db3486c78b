/** An SQL identifier, quoted for both PostgreSQL and SQLite. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** An SQL string literal. */
export function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
