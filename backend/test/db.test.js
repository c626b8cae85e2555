import { setImmediate } from 'node:timers';
import { describe, expect, it } from 'vitest';
import { createRepo, seedRows } from '../src/db.js';

/**
 * A small stand-in for PostgreSQL / MySQL that understands the statements the repository
 * sends, enforces the primary key like a real server (a duplicate id fails unless the
 * dialect's "skip duplicates" clause is there), checks the placeholder style, and yields
 * between statements so that two concurrent callers interleave.
 */
function fakeSql(dialect) {
  const table = { exists: false, rows: new Map() };
  const statements = [];
  const query = async (sql, params = []) => {
    statements.push({ sql, params });
    await new Promise((resolve) => setImmediate(resolve));
    const marks = dialect === 'postgres' ? (sql.match(/\$\d+/g) ?? []) : (sql.match(/\?/g) ?? []);
    if (marks.length !== params.length) throw new Error(`placeholders do not match: ${sql}`);
    if (dialect === 'postgres') {
      if (sql.includes('?')) throw new Error('PostgreSQL does not take ? placeholders');
      marks.forEach((m, i) => {
        if (m !== `$${i + 1}`) throw new Error(`placeholder ${m} out of order`);
      });
    } else if (/\$\d/.test(sql)) {
      throw new Error('MySQL does not take $n placeholders');
    }
    if (sql === 'SELECT 1') return [{ 1: 1 }];
    if (sql.startsWith('CREATE TABLE IF NOT EXISTS drill_markers (')) {
      table.markers ??= new Map();
      return [];
    }
    if (sql.includes('drill_markers')) {
      if (!table.markers) throw new Error('relation "drill_markers" does not exist');
      if (sql.startsWith('INSERT INTO drill_markers (id, at) VALUES ')) {
        if (table.markers.has(params[0])) throw new Error('duplicate key (drill_markers_pkey)');
        table.markers.set(params[0], params[1]);
        return [];
      }
      if (sql.startsWith('DELETE FROM drill_markers WHERE at < ')) {
        for (const [id, at] of table.markers) if (at < params[0]) table.markers.delete(id);
        return [];
      }
      if (sql === 'SELECT COUNT(*) AS n FROM drill_markers') {
        // PostgreSQL's COUNT is a BIGINT: a string
        return [{ n: String(table.markers.size) }];
      }
      if (sql.startsWith('SELECT at FROM drill_markers WHERE id = ')) {
        const at = table.markers.get(params[0]);
        // both drivers may hand BIGINT back as a string
        return at === undefined ? [] : [{ at: String(at) }];
      }
    }
    if (sql.startsWith('CREATE TABLE IF NOT EXISTS products (')) {
      table.exists = true;
      return [];
    }
    if (!table.exists) throw new Error('relation "products" does not exist');
    if (sql === 'SELECT COUNT(*) AS n FROM products') {
      // both drivers hand COUNT/DECIMAL back as strings (pg: bigint; mysql2: decimals)
      return [{ n: String(table.rows.size) }];
    }
    if (sql.startsWith('INSERT INTO products (id, name, category, price, stock) VALUES ')) {
      const skip =
        dialect === 'postgres'
          ? sql.endsWith(' ON CONFLICT (id) DO NOTHING')
          : sql.endsWith(' ON DUPLICATE KEY UPDATE id = id');
      for (let i = 0; i < params.length; i += 5) {
        const [id, name, category, price, stock] = params.slice(i, i + 5);
        if (table.rows.has(id)) {
          if (skip) continue;
          throw new Error(`duplicate key value violates unique constraint "products_pkey" (${id})`);
        }
        table.rows.set(id, { id, name, category, price: String(price), stock });
      }
      return [];
    }
    const sorted = () => [...table.rows.values()].sort((a, b) => a.id - b.id);
    if (sql === 'SELECT id, name, category, price, stock FROM products ORDER BY id LIMIT 100') {
      return sorted();
    }
    const byId = dialect === 'postgres' ? '$1' : '?';
    if (sql === `SELECT id, name, category, price, stock FROM products WHERE id = ${byId}`) {
      return sorted().filter((r) => r.id === params[0]);
    }
    throw new Error(`unexpected SQL: ${sql}`);
  };
  return { query, table, statements, close: async () => (table.closed = true) };
}

describe.each(['postgres', 'mysql'])('products repository on %s', (dialect) => {
  it('creates the table and seeds 20 products on first start', async () => {
    const sql = fakeSql(dialect);
    const repo = createRepo(dialect, sql);
    expect(await repo.migrate()).toBe(20);
    expect(sql.table.rows.size).toBe(20);
    const products = await repo.list();
    expect(products).toHaveLength(20);
    expect(products.map((p) => p.id)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // numbers, not the strings the drivers return for DECIMAL columns
    expect(products[0]).toEqual({
      id: 1,
      name: 'Mouse',
      category: 'Electronics',
      price: 19.99,
      stock: 10,
    });
  });

  it('does not seed again when the table has products (idempotent restart)', async () => {
    const sql = fakeSql(dialect);
    const repo = createRepo(dialect, sql);
    await repo.migrate();
    sql.table.rows.delete(20); // an operator's change must survive a restart
    expect(await repo.migrate()).toBe(0);
    expect(sql.table.rows.size).toBe(19);
    expect(sql.statements.filter((s) => s.sql.startsWith('INSERT'))).toHaveLength(1);
  });

  it('keeps one copy when two instances start at once and both see an empty table', async () => {
    const sql = fakeSql(dialect);
    const [a, b] = await Promise.all([
      createRepo(dialect, sql).migrate(),
      createRepo(dialect, sql).migrate(),
    ]);
    // both really raced: each counted 0 rows and sent its INSERT
    expect([a, b]).toEqual([20, 20]);
    expect(sql.statements.filter((s) => s.sql.startsWith('INSERT'))).toHaveLength(2);
    expect(sql.table.rows.size).toBe(20);
  });

  it('reads one product by id with a bound parameter', async () => {
    const sql = fakeSql(dialect);
    const repo = createRepo(dialect, sql);
    await repo.migrate();
    expect(await repo.get(7)).toMatchObject({ id: 7, name: 'Chair', price: 289 });
    expect(await repo.get(999)).toBeNull();
    expect(sql.statements.at(-1).params).toEqual([999]);
  });

  it('pings with SELECT 1 and closes the pool', async () => {
    const sql = fakeSql(dialect);
    const repo = createRepo(dialect, sql);
    await repo.ping();
    expect(sql.statements[0].sql).toBe('SELECT 1');
    await repo.close();
    expect(sql.table.closed).toBe(true);
  });

  it('passes a database error to the caller (which retries or answers 503)', async () => {
    const repo = createRepo(dialect, {
      query: async () => {
        throw new Error('Connection terminated unexpectedly');
      },
    });
    await expect(repo.list()).rejects.toThrow('Connection terminated unexpectedly');
    await expect(repo.migrate()).rejects.toThrow('Connection terminated unexpectedly');
  });
});

describe('seed data', () => {
  it('has 20 products with unique ids 1..20, names, categories and valid prices', () => {
    const rows = seedRows();
    expect(rows).toHaveLength(20);
    expect(new Set(rows.map((r) => r[0])).size).toBe(20);
    for (const [id, name, category, price, stock] of rows) {
      expect(id).toBeGreaterThan(0);
      expect(name).toMatch(/^[A-Z][A-Za-z -]+$/);
      expect(category).toMatch(/^[A-Z][a-z]+$/);
      expect(price).toMatch(/^\d{1,8}(\.\d{1,2})?$/); // fits DECIMAL(10,2)
      expect(Number(price)).toBeGreaterThan(0);
      expect(Number.isInteger(stock) && stock > 0).toBe(true);
    }
  });
});

describe.each(['postgres', 'mysql'])('drill markers on %s', (dialect) => {
  it('writes a marker and reads it back; a marker never written is null', async () => {
    const sql = fakeSql(dialect);
    const repo = createRepo(dialect, sql);
    expect(await repo.getMarker('drill-aaaa')).toBeNull();
    await repo.putMarker('drill-aaaa', 1_000);
    expect(await repo.getMarker('drill-aaaa')).toEqual({ id: 'drill-aaaa', writtenAt: 1_000 });
    expect(await repo.getMarker('drill-bbbb')).toBeNull();
    await expect(repo.putMarker('drill-aaaa', 2_000)).rejects.toThrow('duplicate');
  });

  it('bounds the open route: markers go after an hour, and at most 100 are kept', async () => {
    const sql = fakeSql(dialect);
    const repo = createRepo(dialect, sql);
    const hour = 3_600_000;
    expect(await repo.putMarker('drill-old0', 1_000)).toBe(true);
    for (let i = 1; i < 100; i++) expect(await repo.putMarker(`drill-m${i}`, hour)).toBe(true);
    // Full: the 101st is refused and nothing is written.
    expect(await repo.putMarker('drill-full', hour + 500)).toBe(false);
    expect(await repo.getMarker('drill-full')).toBeNull();
    // An hour after the first, it is deleted on the next write, which then fits.
    expect(await repo.putMarker('drill-next', hour + 1_001)).toBe(true);
    expect(await repo.getMarker('drill-old0')).toBeNull();
    expect(await repo.getMarker('drill-m1')).toEqual({ id: 'drill-m1', writtenAt: hour });
    expect(await repo.getMarker('drill-next')).not.toBeNull();
  });
});
