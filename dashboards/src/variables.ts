// Template variables shared by both dashboards. The chain job → instance →
// vm → vcpu narrows each list to what the previous choice can see.
import { datasourceVariable, queryVariable } from './grafana.ts';

// kvmlens_build_info exists once per exporter even on a host with no VMs yet.
const job = queryVariable({ name: 'job', label: 'Job', query: 'label_values(kvmlens_build_info, job)', multi: true, includeAll: true });
const instance = queryVariable({
  name: 'instance',
  label: 'Instance',
  query: 'label_values(kvmlens_build_info{job=~"$job"}, instance)',
  multi: true,
  includeAll: true,
});

// VMs and vCPUs come from the exit histogram: a VM that never exited has nothing to show.
function vm(single: boolean) {
  return queryVariable({
    name: 'vm',
    label: 'VM',
    query: 'label_values(kvm_exit_duration_seconds_count{job=~"$job", instance=~"$instance"}, vm)',
    multi: !single,
    includeAll: !single,
  });
}
const vcpu = queryVariable({
  name: 'vcpu',
  label: 'vCPU',
  query: 'label_values(kvm_exit_duration_seconds_count{job=~"$job", instance=~"$instance", vm=~"$vm"}, vcpu)',
  multi: true,
  includeAll: true,
});

/** The fleet view: any number of VMs. */
export const fleetVariables = [datasourceVariable(), job, instance, vm(false), vcpu];
/** The one-VM view: exactly one VM, any of its vCPUs. */
export const oneVmVariables = [datasourceVariable(), job, instance, vm(true), vcpu];
