const SEED = {
  Electronics: 'Mouse 19.99,Keyboard 89,USB Hub 34.5,Headphones 199,Monitor 249',
  Office: 'Laptop Stand 29.9,Chair 289,Desk Lamp 24.99,Notebook 9.99,Pen 4.5',
  Kitchen: 'Coffee Grinder 59,French Press 27.5,Knife 74.99,Skillet 39.95,Mug 12',
  Outdoor: 'Backpack 119,Lantern 32.49,Yoga Mat 25,Running Shoes 129.99,Tent 159',
};

export const seedRows = () =>
  Object.entries(SEED)
    .flatMap(([category, list]) => list.split(',').map((p) => [category, p]))
    .map(([category, p], i) => {
      const at = p.lastIndexOf(' ');
      return [i + 1, p.slice(0, at), category, p.slice(at + 1), 10 + ((i * 7) % 40)];
    });

const COLS = 'id, name, category, price, stock';
const MARKERS = 'CREATE TABLE IF NOT EXISTS drill_markers (id VARCHAR(64) PRIMARY KEY, at BIGINT)';
const product = (r) => ({ ...r, id: +r.id, price: +r.price, stock: +r.stock }); // DECIMAL: strings

export function createRepo(dialect, { query, close }) {
  const pg = dialect === 'postgres';
  // `?` placeholders (never inside a literal), numbered $1, $2… for PostgreSQL
  const run = (sql, params = []) => {
    let n = 0;
    return query(pg ? sql.replace(/\?/g, () => `$${++n}`) : sql, params);
  };
  return {
    ping: () => run('SELECT 1'),
    list: async () =>
      (await run(`SELECT ${COLS} FROM products ORDER BY id LIMIT 100`)).map(product),
    get: async (id) => {
      const [row] = await run(`SELECT ${COLS} FROM products WHERE id = ?`, [id]);
      return row ? product(row) : null;
    },
    async migrate() {
      // two instances at once: PostgreSQL may fail one CREATE (the caller retries); both
      // may seed (fixed ids, duplicates skipped)
      await run(
        'CREATE TABLE IF NOT EXISTS products (id INTEGER PRIMARY KEY, name VARCHAR(200) NOT NULL,' +
          ' category VARCHAR(100) NOT NULL, price DECIMAL(10,2) NOT NULL, stock INTEGER NOT NULL)',
      );
      const [{ n }] = await run('SELECT COUNT(*) AS n FROM products');
      if (+n > 0) return 0;
      const rows = seedRows();
      await run(
        `INSERT INTO products (${COLS}) VALUES ${rows.map(() => '(?, ?, ?, ?, ?)')} ` +
          (pg ? 'ON CONFLICT (id) DO NOTHING' : 'ON DUPLICATE KEY UPDATE id = id'),
        rows.flat(),
      );
      return rows.length;
    },
    // drill markers (cloudmart drill rds-failover): a row gone after a failover is data lost.
    // Anyone may PUT one: rows go after an hour, and at most 100 are kept (false: full)
    putMarker: async (id, at) => {
      await run(MARKERS);
      await run('DELETE FROM drill_markers WHERE at < ?', [at - 36e5]);
      const [{ n }] = await run('SELECT COUNT(*) AS n FROM drill_markers');
      if (+n > 99) return false;
      await run('INSERT INTO drill_markers (id, at) VALUES (?, ?)', [id, at]);
      return true;
    },
    getMarker: async (id) => {
      await run(MARKERS);
      const [row] = await run('SELECT at FROM drill_markers WHERE id = ?', [id]);
      return row ? { id, writtenAt: +row.at } : null;
    },
    close: async () => close?.(),
  };
}
