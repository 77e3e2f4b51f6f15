// Every string the console shows, in one table: Chinese (the default) and English.
// `t(key, values)` looks a key up in the current language and fills `{name}` placeholders.

const STRINGS = {
  app_name: ['精治', 'Jingzhi'],
  app_subtitle: ['城市精细化治理平台', 'Fine-grained urban governance'],
  language_switch: ['English', '中文'],

  // Login and session.
  login_title: ['登录', 'Log in'],
  login_name: ['登录名', 'Login'],
  login_password: ['密码', 'Password'],
  login_submit: ['登录', 'Log in'],
  login_failed: ['登录失败：{message}', 'Login failed: {message}'],
  logout: ['退出', 'Log out'],
  session_expired: ['会话已过期，请重新登录', 'The session has expired; please log in again'],

  // Navigation.
  nav_map: ['地图', 'Map'],
  nav_cases: ['案件', 'Cases'],
  nav_scores: ['考评', 'Scorecards'],
  nav_goals: ['目标', 'Goals'],
  nav_intake: ['上报', 'Report'],

  // Roles.
  role_city_operator: ['市级操作员', 'city operator'],
  role_district_operator: ['区级操作员', 'district operator'],
  role_street_operator: ['街道操作员', 'street operator'],
  role_dispatcher: ['派遣员', 'dispatcher'],
  role_handler: ['处置员', 'handler'],
  role_inspector: ['网格巡查员', 'grid inspector'],
  role_hotline_operator: ['热线接线员', 'hotline operator'],
  role_community_worker: ['社区工作者', 'community worker'],
  role_volunteer: ['志愿者', 'volunteer'],
  role_citizen: ['市民', 'citizen'],
  role_auditor: ['审计员', 'auditor'],
  role_admin: ['管理员', 'administrator'],
  role_system: ['系统', 'system'],
  whole_city: ['全市', 'whole city'],

  // Levels.
  level_city: ['市', 'city'],
  level_district: ['区', 'district'],
  level_street: ['街道', 'street'],
  level_community: ['社区', 'community'],
  level_grid: ['网格', 'grid'],

  // Map.
  map_title: ['网格地图', 'Grid map'],
  map_metric: ['着色指标', 'Colour by'],
  metric_open: ['在办案件', 'open cases'],
  metric_overdue: ['超期案件', 'overdue cases'],
  metric_score: ['目标达成（得分）', 'goal attainment (score)'],
  map_children: ['下级区划', 'Subdivisions'],
  map_up: ['上一级', 'Up one level'],
  map_legend: ['图例', 'Legend'],
  legend_generated: ['生成边界（非官方）', 'generated boundary (not official)'],
  legend_official: ['正式边界', 'official boundary'],
  legend_cases: ['案件（聚合）', 'cases (clustered)'],
  legend_no_data: ['无数据', 'no data'],
  generated_mark: ['生成', 'generated'],
  grid_selected: ['已选网格 {code}', 'Grid {code} selected'],
  grid_cases: ['本网格案件', 'Cases in this grid'],
  no_cases: ['暂无案件', 'No cases'],
  cluster_cases: ['{count} 件案件', '{count} cases'],
  open_case: ['打开案件', 'Open case'],

  // Case desk.
  cases_title: ['案件台', 'Case desk'],
  queue: ['队列', 'Queue'],
  queue_all: ['全部', 'all'],
  queue_to_register: ['待立案', 'to register'],
  queue_to_dispatch: ['待派遣', 'to dispatch'],
  queue_to_handle: ['待处置', 'to handle'],
  queue_to_verify: ['待核查', 'to verify'],
  queue_to_close: ['待结案', 'to close'],
  queue_overdue: ['已超期', 'overdue'],
  queue_postponements: ['延期申请', 'postponements'],
  queue_return_calls: ['待回访', 'return calls'],
  queue_reviews: ['待复核', 'reviews'],
  filter_state: ['状态', 'State'],
  filter_category: ['类别', 'Category'],
  filter_channel: ['渠道', 'Channel'],
  filter_division: ['区划代码', 'Division code'],
  filter_apply: ['筛选', 'Filter'],
  filter_any: ['不限', 'any'],
  col_id: ['编号', 'ID'],
  col_state: ['状态', 'State'],
  col_category: ['类别', 'Category'],
  col_description: ['描述', 'Description'],
  col_place: ['位置', 'Place'],
  col_department: ['责任部门', 'Department'],
  col_reported: ['上报时间', 'Reported'],
  col_light: ['时限', 'Deadline'],
  refresh: ['刷新', 'Refresh'],
  loading: ['加载中…', 'Loading…'],
  back_to_list: ['返回列表', 'Back to the list'],
  case_title: ['案件 {id}', 'Case {id}'],
  case_version: ['版本', 'Version'],
  case_deadline: ['本阶段时限', 'Stage deadline'],
  case_urgency: ['紧急程度', 'Urgency'],
  case_channel: ['渠道', 'Channel'],
  case_level: ['处置层级', 'Level'],
  case_reporters: ['上报人数', 'Reporters'],
  case_counters: ['返工 / 退回 / 重办 / 延期', 'reworks / returns / reopens / postponements'],
  case_timeline: ['办理过程', 'Timeline'],
  case_photos: ['照片', 'Photos'],
  case_reports: ['上报', 'Reports'],
  case_actions: ['可执行操作', 'Actions'],
  case_no_actions: ['当前角色在此状态下无可执行操作', 'Nothing your role may do in this state'],
  case_note: ['备注', 'Note'],
  case_done: ['操作成功：{command}', 'Done: {command}'],
  case_refused: ['操作被拒绝：{message}', 'Refused: {message}'],
  case_changed_live: ['案件已被他人更新，已刷新', 'The case changed elsewhere and was reloaded'],
  light_green: ['正常', 'on time'],
  light_yellow: ['预警', 'warning'],
  light_red: ['超期', 'overdue'],
  none: ['无', 'none'],
  rate_title: ['评价处置结果', 'Rate the result'],
  rate_done: ['评价已提交', 'Rating sent'],
  rating_satisfied: ['满意', 'satisfied'],
  rating_basically_satisfied: ['基本满意', 'basically satisfied'],
  rating_dissatisfied: ['不满意', 'dissatisfied'],
  urgency_normal: ['一般', 'normal'],
  urgency_urgent: ['紧急', 'urgent'],
  channel_web: ['网页', 'web'],
  channel_inspector: ['巡查员', 'inspector'],
  channel_open311: ['Open311', 'Open311'],
  channel_hotline: ['12345 热线', '12345 hotline'],
  channel_sensor: ['感知设备', 'sensor'],
  channel_external: ['外部系统', 'external system'],

  // States.
  state_reported: ['已上报', 'reported'],
  state_registered: ['已立案', 'registered'],
  state_rejected: ['不予立案', 'rejected'],
  state_dispatched: ['已派遣', 'dispatched'],
  state_accepted: ['已接收', 'accepted'],
  state_handling: ['处置中', 'handling'],
  state_handled: ['已处置', 'handled'],
  state_verified: ['已核查', 'verified'],
  state_closed: ['已结案', 'closed'],
  state_rated: ['已评价', 'rated'],
  state_suspended: ['已挂起', 'suspended'],
  state_cancelled: ['已作废', 'cancelled'],

  // Commands.
  cmd_register: ['立案', 'Register'],
  cmd_reject: ['不予立案', 'Reject'],
  cmd_dispatch: ['派遣', 'Dispatch'],
  cmd_accept: ['接收', 'Accept'],
  cmd_return: ['退回', 'Return'],
  cmd_start_handling: ['开始处置', 'Start handling'],
  cmd_report_handled: ['处置完毕', 'Report handled'],
  cmd_verify_pass: ['核查通过', 'Verify: passed'],
  cmd_verify_fail: ['核查不通过（返工）', 'Verify: failed (rework)'],
  cmd_close: ['结案', 'Close'],
  cmd_request_postponement: ['申请延期', 'Request postponement'],
  cmd_approve_postponement: ['批准延期', 'Approve postponement'],
  cmd_deny_postponement: ['驳回延期', 'Deny postponement'],
  cmd_suspend: ['挂起', 'Suspend'],
  cmd_resume: ['恢复', 'Resume'],
  cmd_cancel: ['作废', 'Cancel'],
  cmd_reopen: ['重新办理', 'Reopen'],
  cmd_whistle: ['吹哨报到', 'Whistle'],
  cmd_report_for_duty: ['报到', 'Report for duty'],
  arg_department: ['责任部门', 'Department'],
  arg_category: ['类别', 'Category'],
  arg_reason: ['原因', 'Reason'],
  arg_extra: ['延期工作日', 'Extra working days'],
  arg_lead: ['牵头部门', 'Lead department'],
  arg_departments: ['协同部门', 'Joining departments'],
  arg_required: ['请填写：{field}', 'Please fill in: {field}'],

  // Live.
  live_new_case: ['新案件 {id}', 'New case {id}'],
  live_escalated: ['案件 {id} 已升级（超期）', 'Case {id} escalated (overdue)'],
  live_connected: ['实时', 'live'],
  live_disconnected: ['离线', 'offline'],

  // Scorecards.
  scores_title: ['考评', 'Scorecards'],
  scores_scope: ['考评对象', 'Scope'],
  scores_from: ['起', 'From'],
  scores_to: ['止', 'To'],
  scores_show: ['查看', 'Show'],
  scores_score: ['综合得分', 'Score'],
  scores_grade: ['等级', 'Grade'],
  scores_goal_source: ['目标来源', 'Goals from'],
  goal_source_zone: ['区域目标', 'the zone'],
  goal_source_zone_type: ['区域类型目标', 'the zone type'],
  goal_source_none: ['未设目标', 'no goals'],
  scores_counts: ['计数', 'Counts'],
  scores_indicators: ['指标与目标', 'Indicators against goals'],
  scores_limits: ['考核口径', 'Limits'],
  limit_objective: ['客观类（按期结案率）', 'objective (on-time closure)'],
  limit_satisfaction: ['满意度类（满意率）', 'satisfaction (satisfaction rate)'],
  col_indicator: ['指标', 'Indicator'],
  col_value: ['实际值', 'Value'],
  col_target: ['目标值', 'Target'],
  col_weight: ['权重', 'Weight'],
  col_attainment: ['达成度', 'Attainment'],
  col_gap: ['差距', 'Gap'],
  col_rank: ['排名', 'Rank'],
  col_name: ['名称', 'Name'],
  col_score: ['得分', 'Score'],
  col_open: ['在办', 'Open'],
  col_overdue: ['超期', 'Overdue'],
  scores_ranking: ['排名', 'Ranking'],
  scores_ranking_level: ['排名层级', 'Rank'],
  scores_trend: ['趋势', 'Trend'],
  scores_indicator: ['指标', 'Indicator'],
  scores_bucket: ['周期', 'Bucket'],
  bucket_day: ['日', 'day'],
  bucket_week: ['周', 'week'],
  bucket_month: ['月', 'month'],
  level_department: ['部门', 'department'],
  scores_unavailable: ['考评数据暂不可用：{message}', 'Scorecards are not available: {message}'],
  count_label: ['{key}', '{key}'],

  // Goals.
  goals_title: ['目标簇', 'Goal clusters'],
  goals_subject: ['对象', 'Subject'],
  goals_zone_types: ['区域类型', 'Zone types'],
  goals_zones: ['区域', 'Zones'],
  goals_add_target: ['添加指标', 'Add indicator'],
  goals_remove: ['删除', 'Remove'],
  goals_save: ['保存', 'Save'],
  goals_saved: ['目标已保存', 'Goals saved'],
  goals_weights_sum: ['权重合计 {sum}', 'Weights sum to {sum}'],
  goals_valid: ['校验通过', 'Valid'],
  goals_problem_empty: ['至少需要一个指标', 'At least one indicator is needed'],
  goals_problem_duplicate: ['第 {n} 行：指标重复', 'Row {n}: indicator appears twice'],
  goals_problem_unknown: ['第 {n} 行：未知指标', 'Row {n}: unknown indicator'],
  goals_problem_weight: ['第 {n} 行：权重须大于 0 且不超过 1', 'Row {n}: weight must be above 0 and at most 1'],
  goals_problem_target: ['第 {n} 行：目标值须在 [{min}, {max}] 之间', 'Row {n}: target must lie in [{min}, {max}]'],
  goals_problem_sum: ['权重合计为 {sum}，应为 1', 'Weights sum to {sum}, not 1'],
  goals_history: ['修改记录', 'History'],
  goals_save_failed: ['保存失败：{message}', 'Saving failed: {message}'],
  goals_read_only: ['仅管理员和市级操作员可修改目标', 'Only administrators and city operators change goals'],

  // Intake.
  intake_title: ['问题上报', 'Report a problem'],
  intake_description: ['问题描述', 'Description'],
  intake_category: ['类别（可选）', 'Category (optional)'],
  intake_suggest: ['智能分类', 'Suggest categories'],
  intake_auto: ['自动分类', 'classify automatically'],
  intake_point: ['位置（在地图上点选）', 'Location (pick on the map)'],
  intake_point_none: ['尚未选点', 'no point picked yet'],
  intake_address: ['地址（可选）', 'Address (optional)'],
  intake_photo: ['照片（可选）', 'Photo (optional)'],
  intake_reporter_name: ['来电人姓名', 'Caller name'],
  intake_reporter_phone: ['来电人电话', 'Caller phone'],
  intake_submit: ['提交', 'Submit'],
  intake_done: ['已受理：案件 {id}（{outcome}）', 'Received: case {id} ({outcome})'],
  intake_failed: ['提交失败：{message}', 'Submitting failed: {message}'],
  intake_need_point: ['请先在地图上选择位置', 'Pick the location on the map first'],
  intake_need_description: ['请填写问题描述', 'Describe the problem'],
  intake_not_allowed: ['当前角色不能上报问题', 'Your role does not submit reports'],
  outcome_created: ['新建', 'created'],
  outcome_linked: ['已合并到相同问题', 'linked to the same problem'],
  outcome_replayed: ['重复提交', 'replayed'],
  confidence: ['置信度', 'confidence'],

  // Counters of a scorecard (the API's names).
  count_reported: ['上报', 'reported'],
  count_by_inspector: ['巡查员上报', 'by inspectors'],
  count_by_public: ['公众上报', 'by the public'],
  count_inspector_valid: ['巡查有效上报', 'valid inspector reports'],
  count_registered: ['立案', 'registered'],
  count_registered_on_time: ['按时立案', 'registered on time'],
  count_rejected: ['不予立案', 'rejected'],
  count_cancelled: ['作废', 'cancelled'],
  count_dispatched: ['派遣', 'dispatched'],
  count_dispatched_on_time: ['按时派遣', 'dispatched on time'],
  count_returned: ['退回', 'returned'],
  count_registered_public: ['公众来源立案', 'registered from the public'],
  count_public_registered_on_time: ['公众来源按时立案', 'public, registered on time'],
  count_urgent: ['紧急', 'urgent'],
  count_due: ['应处置', 'due'],
  count_handled: ['已处置', 'handled'],
  count_handled_on_time: ['按期处置', 'handled on time'],
  count_closed: ['结案', 'closed'],
  count_closed_on_time: ['按期结案', 'closed on time'],
  count_reworked: ['返工', 'reworked'],
  count_overdue: ['曾超期', 'ever overdue'],
  count_escalated: ['升级', 'escalated'],
  count_checked: ['已核查', 'checked'],
  count_checked_on_time: ['按时核查', 'checked on time'],
  count_suspended: ['挂账', 'suspended'],
  count_open: ['在办', 'open'],
  count_overdue_open: ['在办超期', 'open and overdue'],
  count_responded: ['已响应', 'responded'],
  count_resolved: ['已解决', 'resolved'],
  count_rated_satisfied: ['满意', 'satisfied'],
  count_rated_basically_satisfied: ['基本满意', 'basically satisfied'],
  count_rated_dissatisfied: ['不满意', 'dissatisfied'],

  // Timeline entries that are not states.
  event_reported: ['上报', 'reported'],
  event_report_linked: ['合并上报', 'report linked'],
  event_returned: ['退回', 'returned'],
  event_rework: ['返工', 'rework'],
  event_warned: ['时限预警', 'deadline warning'],
  event_overdue: ['超期', 'overdue'],
  event_escalated: ['升级', 'escalated'],
  event_postponement_requested: ['申请延期', 'postponement requested'],
  event_postponement_decided: ['延期审批', 'postponement decided'],
  event_whistled: ['吹哨', 'whistle'],
  event_reported_for_duty: ['报到', 'reported for duty'],
  event_reopened: ['重新办理', 'reopened'],
  event_resumed: ['恢复', 'resumed'],

  error_generic: ['出错了：{message}', 'Something went wrong: {message}'],
};

const LANGS = ['zh', 'en'];
let current = localStorage.getItem('jz.lang') === 'en' ? 'en' : 'zh';

export function lang() {
  return current;
}

export function setLang(next) {
  current = LANGS.includes(next) ? next : 'zh';
  localStorage.setItem('jz.lang', current);
  document.documentElement.lang = current === 'zh' ? 'zh-CN' : 'en';
}

export function t(key, values = {}) {
  const entry = STRINGS[key];
  const text = entry ? entry[LANGS.indexOf(current)] : key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
}

// A translation when the table has one, else `fallback` (codes from the API we do not know).
export function tOr(key, fallback) {
  return key in STRINGS ? t(key) : fallback;
}

// A number formatted for the current language.
export function num(value, digits = 2) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  return Number(value).toLocaleString(current === 'zh' ? 'zh-CN' : 'en', { maximumFractionDigits: digits });
}

// A microsecond timestamp as local date and time.
export function when(us) {
  if (!us) return '—';
  return new Date(us / 1000).toLocaleString(current === 'zh' ? 'zh-CN' : 'en', { hour12: false });
}
