// The browser scenario's world, built through the HTTP API with the administrator's token that
// `cargo xtask browser` created: departments, a responsibility rule, users of each role with
// console logins, and reports from the hotline (one waits for dispatch; the others are
// dispatched automatically and give the map its clusters).

export const STREET = '330102001000'; // 湖滨街道 (generated inside 上城区)
export const DISTRICT = '330102000000';
export const PASSWORD = 'browser-test-密码-1';

export const USERS = {
  operator: { name: '王敏', role: 'street_operator', territory: STREET },
  handler: { name: '李强', role: 'handler', territory: STREET, department: 'hb-municipal' },
  inspector: { name: '张伟', role: 'inspector', territory: STREET },
  hotline: { name: '赵丽', role: 'hotline_operator', territory: DISTRICT },
  citizen: { name: '陈晨', role: 'citizen' },
  cityop: { name: '孙浩', role: 'city_operator' },
  admin: { name: '管理员', role: 'admin' },
};

async function call(base, token, method, path, body) {
  const response = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

export async function seed(base, adminToken) {
  const admin = (method, path, body) => call(base, adminToken, method, path, body);
  const departments = [
    { id: 'hb-municipal', name: '湖滨街道市政所', kind: 'street_office', level: 'street', division: STREET, active: true },
    { id: 'hb-sanitation', name: '湖滨街道环卫所', kind: 'bureau', level: 'street', division: STREET, active: true },
  ];
  for (const department of departments) await admin('PUT', `/departments/${department.id}`, department);
  // Sanitation (06…) is dispatched automatically; municipal facilities (01…) wait for an operator.
  await admin('POST', '/responsibility-rules', {
    id: 'hb-sanitation-06',
    category: '06',
    territory: { kind: 'division', id: STREET },
    level: 'street',
    department: 'hb-sanitation',
    priority: 1,
    fallback: false,
  });
  const tokens = {};
  const logins = {};
  for (const [login, user] of Object.entries(USERS)) {
    const made = await admin('POST', '/users', { ...user, login, password: PASSWORD });
    tokens[login] = made.token;
    logins[login] = { login, password: PASSWORD, ...user };
  }
  const report = (description, category, lon, lat) =>
    call(base, tokens.hotline, 'POST', '/reports', {
      description,
      category,
      location: { lon, lat },
      reporter: { name: '市民甲', phone: '13800000000' },
    });
  const scenario = await report('东坡路井盖松动，行人容易绊倒', '01010', 120.0152, 30.0151);
  const background = [];
  for (const [i, [lon, lat]] of [
    [120.0131, 30.0112],
    [120.0139, 30.0118],
    [120.0171, 30.0061],
    [120.0178, 30.0069],
    [120.0186, 30.0162],
  ].entries()) {
    background.push(await report(`路边暴露垃圾第${i + 1}处，无人清理`, '06010', lon, lat));
  }
  return { tokens, logins, scenarioCase: scenario.case, background };
}
